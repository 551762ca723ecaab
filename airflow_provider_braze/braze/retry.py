"""The retry policy: which failures are worth another attempt, and how long to wait before it.

Braze's guidance (https://www.braze.com/docs/api/errors/ and
https://www.braze.com/docs/api/api_limits/): wait until ``X-RateLimit-Reset`` after a 429, back off
exponentially after a 5xx or a connection error, and never retry other 4xx.

Braze has no idempotency key. A request whose answer was lost after it was sent (connection closed,
read timeout) or that was answered 502 or 504 may already have been applied; resending events,
purchases or increments would count them twice, so such a request is retried only when it is
idempotent or when the caller opted into at-least-once delivery (``retry_ambiguous``). A request that
never left (connection refused, connect timeout) and a 500 or 503 are always retried.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import tenacity

from airflow_provider_braze.braze.errors import BrazeRateLimitError, BrazeServerError, BrazeTransportError

log = logging.getLogger(__name__)

#: 5xx statuses after which Braze may have applied the request (a gateway gave up waiting for it).
AMBIGUOUS_5XX = frozenset({502, 504})


def is_ambiguous(error: BaseException | None) -> bool:
    """Whether Braze may have applied a request that ended with ``error``."""
    if isinstance(error, BrazeServerError):
        return error.status_code in AMBIGUOUS_5XX
    return isinstance(error, BrazeTransportError) and error.may_have_been_applied


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
        if not isinstance(error, (BrazeServerError, BrazeTransportError)):
            return False
        if is_ambiguous(error):
            return idempotent or self.retry_ambiguous
        return True

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
                return policy.wait_seconds(_outcome_error(retry_state), retry_state.attempt_number)

        def _log(retry_state: tenacity.RetryCallState) -> None:
            error = _outcome_error(retry_state)
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


def _outcome_error(retry_state: tenacity.RetryCallState) -> BaseException | None:
    # tenacity sets the outcome before it calls wait and before_sleep; None only guards the type.
    return retry_state.outcome.exception() if retry_state.outcome is not None else None


def _has_reset(error: BaseException | None) -> bool:
    return isinstance(error, BrazeRateLimitError) and error.reset_at is not None


def _short(error: BaseException | None) -> str:
    if error is None:
        return "no error"
    text = str(error)
    return text if len(text) <= 200 else text[:197] + "..."
