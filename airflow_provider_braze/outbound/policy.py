"""The outbound HTTP policy: timeouts, which failures get another attempt, and how long to wait first.

One value, used by the Braze client (which refines what may be resent, see
:class:`~airflow_provider_braze.braze.retry.RetryPolicy`), the Ketch web API client and the Ketch
callback poster. A wait the server asked for (``Retry-After``, Braze's ``X-RateLimit-Reset``) is
honoured, plus a little jitter so that clients released together do not fire together; otherwise
the wait is an exponential backoff with full jitter. The retry log line never shows a secret: the
caller names its secrets and they are redacted from the error's text.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests
import tenacity

from airflow_provider_braze.redaction import redact

log = logging.getLogger(__name__)

#: Statuses worth another attempt for a request that is safe to resend: rate limited, or failed at
#: or before the server.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class HttpStatusError(Exception):
    """A server answered with an error status (raised by the Ketch clients; Braze has its own types).

    :param message: the error's text; built from the answer, never from the request (it may hold
        personal data or credentials).
    :param status_code: the HTTP status, if an answer came.
    :param retry_after: seconds the server asked to wait before the next attempt (``Retry-After``).
    """

    def __init__(self, message: str, *, status_code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed if sent again later."""
        return self.status_code in RETRYABLE_STATUSES


def retry_after_seconds(headers: Mapping[str, str] | None, now: Callable[[], float] = time.time) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds (it may be seconds or an HTTP date).

    :param headers: the answer's headers.
    :param now: unix seconds, to turn a date into a wait.
    """
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class HttpPolicy:
    """How an outbound request is timed out and retried.

    :param timeout: ``(connect, read)`` seconds per attempt.
    :param max_attempts: attempts per request, the first included.
    :param max_delay: seconds a request may spend waiting between attempts in total; a wait that
        would pass it ends the retries at once instead of sleeping in vain.
    :param backoff_base: first exponential backoff step in seconds (doubles each attempt, full jitter).
    :param backoff_max: longest single backoff in seconds.
    :param reset_jitter: up to this many seconds are added to a wait the server asked for, so that
        clients released by the same reset do not all fire in the same instant.
    """

    timeout: tuple[float, float] = (10.0, 60.0)
    max_attempts: int = 8
    max_delay: float = 900.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    reset_jitter: float = 0.5

    def should_retry(self, error: BaseException, *, idempotent: bool = True) -> bool:
        """Whether ``error`` deserves another attempt: a retryable status, or no answer at all.

        :param error: what the attempt raised.
        :param idempotent: whether the request is safe to resend after an ambiguous failure (every
            request of the Ketch clients is; the Braze policy refines this).
        """
        if isinstance(error, HttpStatusError):
            return error.retryable
        return isinstance(error, (requests.ConnectionError, requests.Timeout))

    def requested_wait(self, error: BaseException | None, now: Callable[[], float] = time.time) -> float | None:
        """Seconds the server asked to wait after ``error``, or ``None`` when it did not say.

        :param error: what the attempt raised.
        :param now: unix seconds, for a server that names a moment rather than a wait.
        """
        return error.retry_after if isinstance(error, HttpStatusError) else None

    def wait_seconds(self, error: BaseException | None, attempt: int, now: Callable[[], float] = time.time) -> float:
        """Seconds to wait before attempt ``attempt + 1``.

        :param error: what attempt ``attempt`` raised.
        :param attempt: the attempt that failed, 1 for the first.
        :param now: unix seconds (see :meth:`requested_wait`).
        """
        asked = self.requested_wait(error, now)
        if asked is not None:
            return asked + random.uniform(0, self.reset_jitter)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))

    def wait_reason(self, error: BaseException | None) -> str:
        """How the wait after ``error`` was chosen, for the retry log line."""
        return "(backoff)" if self.requested_wait(error) is None else "as the server asked"

    def retrying(
        self,
        *,
        idempotent: bool = True,
        describe: Callable[[], str] = lambda: "request",
        sleep: Callable[[float], None] = time.sleep,
        secrets: Iterable[str] = (),
    ) -> tenacity.Retrying:
        """A tenacity ``Retrying`` that applies this policy to one request.

        :param idempotent: whether the request is safe to resend after an ambiguous failure.
        :param describe: returns the request's name for log lines (called only when logging).
        :param sleep: sleep function, injectable for tests.
        :param secrets: values redacted from the error text the retry log line shows.
        """
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda e: self.should_retry(e, idempotent=idempotent)),
            wait=_PolicyWait(self),
            stop=tenacity.stop_after_attempt(self.max_attempts) | tenacity.stop_before_delay(self.max_delay),
            before_sleep=_RetryLog(self, describe, tuple(secrets)),
            sleep=sleep,
            reraise=True,
        )


class _PolicyWait(tenacity.wait.wait_base):
    def __init__(self, policy: HttpPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        return self.policy.wait_seconds(_outcome_error(retry_state), retry_state.attempt_number)


@dataclass(frozen=True)
class _RetryLog:
    policy: HttpPolicy
    describe: Callable[[], str]
    secrets: tuple[str, ...]

    def __call__(self, retry_state: tenacity.RetryCallState) -> None:
        error = _outcome_error(retry_state)
        log.warning(
            "%s failed (%s); retrying in %.2f s %s, attempt %d of %d",
            self.describe(),
            redact(_short(error), self.secrets),
            retry_state.upcoming_sleep,
            self.policy.wait_reason(error),
            retry_state.attempt_number + 1,
            self.policy.max_attempts,
        )


def _outcome_error(retry_state: tenacity.RetryCallState) -> BaseException | None:
    # tenacity sets the outcome before it calls wait and before_sleep; None only guards the type.
    return retry_state.outcome.exception() if retry_state.outcome is not None else None


def _short(error: BaseException | None) -> str:
    if error is None:
        return "no error"
    text = str(error) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."
