"""The retry policy: which failures are worth another attempt, and how long to wait before it.

Braze's guidance (reference §1.8-1.9): wait until ``X-RateLimit-Reset`` after a 429, back off
exponentially after a 5xx or a connection error, and never retry other 4xx. A request that timed out
after it was sent (read timeout, 504) may already have been applied; resending events or purchases
would count them twice, so such a request is retried only when it is idempotent or when the caller
opted into at-least-once delivery.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
import tenacity

from airflow_provider_braze.braze.errors import BrazeRateLimitError, BrazeServerError

log = logging.getLogger(__name__)

#: 5xx statuses Braze documents as "not processed" (failed before or at the server).
_NOT_PROCESSED_5XX = frozenset({500, 502, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """How a request is retried.

    :param max_attempts: attempts per request, the first included.
    :param max_delay: seconds a request may spend waiting between attempts in total; a wait that
        would pass it ends the retries at once instead of sleeping in vain.
    :param backoff_base: first exponential backoff step in seconds (doubles each attempt, full jitter).
    :param backoff_max: longest single backoff in seconds.
    :param reset_jitter: up to this many seconds are added after ``X-RateLimit-Reset`` so that
        workers released by the same reset do not all fire in the same instant.
    :param retry_ambiguous: also retry requests that may have been applied (timeouts after sending,
        504) when they are not idempotent: at-least-once instead of at-most-once delivery.
    """

    max_attempts: int = 8
    max_delay: float = 900.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    reset_jitter: float = 0.5
    retry_ambiguous: bool = False

    def should_retry(self, error: BaseException, *, idempotent: bool) -> bool:
        """Whether ``error`` from a request with the given idempotency deserves another attempt."""
        if isinstance(error, BrazeRateLimitError):
            return True
        if isinstance(error, BrazeServerError):
            return error.status_code in _NOT_PROCESSED_5XX or idempotent or self.retry_ambiguous
        if isinstance(error, requests.Timeout) and not isinstance(error, requests.ConnectTimeout):
            # A read timeout: the request reached Braze and may have been applied.
            return idempotent or self.retry_ambiguous
        # Refused or reset connections: nearly always a request that never got processed (a stale
        # keep-alive socket, a restarting load balancer), so they are retried like a 503.
        return isinstance(error, requests.ConnectionError)

    def wait_seconds(self, error: BaseException | None, attempt: int, now: Callable[[], float] = time.time) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        if isinstance(error, BrazeRateLimitError) and error.reset_at is not None:
            return max(0.0, error.reset_at - now()) + random.uniform(0, self.reset_jitter)
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)

    def retrying(
        self,
        *,
        idempotent: bool,
        describe: Callable[[], str] = lambda: "Braze request",
        sleep: Callable[[float], None] = time.sleep,
    ) -> tenacity.Retrying:
        """A tenacity ``Retrying`` that applies this policy to one request.

        :param idempotent: whether the request is safe to resend after an ambiguous failure.
        :param describe: returns the request's name for log lines (called only when logging).
        :param sleep: sleep function, injectable for tests.
        """
        policy = self

        class _wait(tenacity.wait.wait_base):
            def __call__(self, retry_state: tenacity.RetryCallState) -> float:
                return policy.wait_seconds(retry_state.outcome.exception(), retry_state.attempt_number)

        def _log(retry_state: tenacity.RetryCallState) -> None:
            error = retry_state.outcome.exception()
            why = "until X-RateLimit-Reset" if _has_reset(error) else "(backoff)"
            log.warning(
                "%s failed (%s); retrying in %.2f s %s, attempt %d of %d",
                describe(),
                _short(error),
                retry_state.upcoming_sleep,
                why,
                retry_state.attempt_number + 1,
                policy.max_attempts,
            )

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda e: policy.should_retry(e, idempotent=idempotent)),
            wait=_wait(),
            stop=tenacity.stop_after_attempt(self.max_attempts) | tenacity.stop_before_delay(self.max_delay),
            before_sleep=_log,
            sleep=sleep,
            reraise=True,
        )


def _has_reset(error: BaseException | None) -> bool:
    return isinstance(error, BrazeRateLimitError) and error.reset_at is not None


def _short(error: BaseException | None) -> str:
    if error is None:
        return "no error"
    text = str(error)
    return text if len(text) <= 200 else text[:197] + "..."
