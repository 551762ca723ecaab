"""Braze's refinement of the outbound HTTP policy: which failures may be resent to Braze.

Braze's guidance (https://www.braze.com/docs/api/errors/ and
https://www.braze.com/docs/api/api_limits/): wait until ``X-RateLimit-Reset`` after a 429, back off
exponentially after a 5xx or a connection error, and never retry other 4xx. The timeouts, backoff,
jitter, stop rule and retry log line are the shared
:class:`~airflow_provider_braze.outbound.policy.HttpPolicy`'s.

Braze has no idempotency key. A request whose answer was lost after it was sent (connection closed,
read timeout) or that was answered 502 or 504 may already have been applied; resending events,
purchases or increments would count them twice, so such a request is retried only when it is
idempotent or when the caller opted into at-least-once delivery (``retry_ambiguous``). A request that
never left (connection refused, connect timeout) and a 500 or 503 are always retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from airflow_provider_braze.braze.errors import BrazeRateLimitError, BrazeServerError, BrazeTransportError
from airflow_provider_braze.outbound.policy import HttpPolicy

#: 5xx statuses after which Braze may have applied the request (a gateway gave up waiting for it).
AMBIGUOUS_5XX = frozenset({502, 504})


def is_ambiguous(error: BaseException | None) -> bool:
    """Whether Braze may have applied a request that ended with ``error``."""
    if isinstance(error, BrazeServerError):
        return error.status_code in AMBIGUOUS_5XX
    return isinstance(error, BrazeTransportError) and error.may_have_been_applied


@dataclass(frozen=True)
class RetryPolicy(HttpPolicy):
    """How a Braze request is retried: the shared policy, judged by Braze's typed errors.

    :param retry_ambiguous: also retry requests that may have been applied (timeouts after sending,
        504) when they are not idempotent: at-least-once instead of at-most-once delivery.

    The other parameters are :class:`~airflow_provider_braze.outbound.policy.HttpPolicy`'s; the
    wait a 429 asks for is Braze's ``X-RateLimit-Reset``. For a Braze request ``max_delay`` (the
    ``max_retry_seconds`` extra) bounds every wait from the request's start, the rate limiter's
    pauses as well as the waits between attempts: a 429 or a pause asking for longer fails the
    request at once with
    :class:`~airflow_provider_braze.braze.errors.BrazeRateLimitWaitError` (see
    :meth:`~airflow_provider_braze.braze.exchange.Exchange.refuse_long_wait`).
    """

    retry_ambiguous: bool = False

    def should_retry(self, error: BaseException, *, idempotent: bool = True) -> bool:
        """Whether ``error`` from a request with the given idempotency deserves another attempt."""
        if isinstance(error, BrazeRateLimitError):
            return True
        if not isinstance(error, (BrazeServerError, BrazeTransportError)):
            return False
        if is_ambiguous(error):
            return idempotent or self.retry_ambiguous
        return True

    def requested_wait(self, error: BaseException | None, now: Callable[[], float] = time.time) -> float | None:
        """Seconds until ``X-RateLimit-Reset`` after a 429 that named it, else ``None``."""
        if isinstance(error, BrazeRateLimitError) and error.reset_at is not None:
            return max(0.0, error.reset_at - now())
        return None

    def wait_reason(self, error: BaseException | None) -> str:
        return "(backoff)" if self.requested_wait(error) is None else "until X-RateLimit-Reset"
