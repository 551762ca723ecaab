"""Exceptions raised by the Braze client core.

Every HTTP error keeps what Braze said (status, ``message``, ``errors``) so that callers can act on it,
and none of them ever holds the API key: messages are built from the response, not the request.
"""

from __future__ import annotations

from typing import Any


class BrazeError(Exception):
    """Base class of every error this provider raises about Braze."""


class BrazeConfigurationError(BrazeError, ValueError):
    """The connection or arguments cannot work (unknown instance, insecure URL, bad extras)."""


class BrazeAPIError(BrazeError):
    """Braze answered with an HTTP error.

    :param status_code: the HTTP status.
    :param message: Braze's ``message`` field, or the reason phrase when the body had none.
    :param errors: Braze's ``errors`` array, if any.
    :param endpoint: the catalogue name of the endpoint called.
    :param headers: the response headers (rate-limit headers are read from them).
    """

    #: Whether the same request may succeed if sent again later.
    retryable = False

    def __init__(
        self,
        status_code: int,
        message: str,
        errors: list[Any] | None = None,
        endpoint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.message = message
        self.errors = list(errors or [])
        self.endpoint = endpoint
        self.headers = dict(headers or {})
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" from {self.endpoint}" if self.endpoint else ""
        text = f"Braze returned HTTP {self.status_code}{where}: {self.message}"
        if self.errors:
            shown = "; ".join(str(e) for e in self.errors[:3])
            more = f" (+{len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
            text += f" [errors: {shown}{more}]"
        return text

    def __reduce__(self) -> tuple[type[BrazeAPIError], tuple[Any, ...]]:
        # Keep the structured fields when the error crosses a process boundary (Airflow pickles some).
        return (self.__class__, (self.status_code, self.message, self.errors, self.endpoint, self.headers))


class BrazeBadRequestError(BrazeAPIError):
    """HTTP 400: the request was malformed or over a limit; nothing in it was processed."""


class BrazeAuthenticationError(BrazeAPIError):
    """HTTP 401: invalid API key, a key from another instance, or a quoted key."""


class BrazePermissionError(BrazeAPIError):
    """HTTP 403: the key lacks the endpoint's permission, or the plan lacks the feature."""


class BrazeNotFoundError(BrazeAPIError):
    """HTTP 404: wrong URL or unknown object (a CDI integration id, for instance)."""


class BrazePayloadTooLargeError(BrazeAPIError):
    """HTTP 413: the body is over the endpoint's byte limit (4 MB for most)."""


class BrazeRateLimitError(BrazeAPIError):
    """HTTP 429: over the rate limit; ``reset_at`` is Braze's ``X-RateLimit-Reset`` (epoch seconds)."""

    retryable = True

    @property
    def reset_at(self) -> float | None:
        from airflow_provider_braze.braze.rate_limit_headers import RateLimitHeaders

        return RateLimitHeaders.parse(self.headers).reset


class BrazeJobInProgressError(BrazeAPIError):
    """HTTP 429 ``Another job is in progress`` from a CDI sync trigger: not a rate limit."""


class BrazeServerError(BrazeAPIError):
    """HTTP 5xx: Braze failed; the request may be retried with backoff."""

    retryable = True


class BrazeTransportError(BrazeError):
    """A request got no HTTP answer: a connection failure or a timeout.

    What matters for a retry is whether the request could have reached Braze, so the transports
    (requests and httpx alike, see :mod:`~airflow_provider_braze.braze.transport_errors`) raise one
    of the two subclasses, never their own library's exceptions.
    """

    #: Whether Braze may have received, and so applied, the request.
    may_have_been_applied = True


class BrazeConnectError(BrazeTransportError):
    """No connection was made (refused, DNS failure, connect timeout): the request was never sent,
    so it is always safe to send again."""

    may_have_been_applied = False


class BrazeResponseLostError(BrazeTransportError):
    """The request was sent, then the answer never came (connection closed or reset, read timeout).

    Braze may have applied it: resending events, purchases or increments could count them twice.
    """


class BrazeAmbiguousOutcomeError(BrazeError):
    """A request that is not safe to resend ended without a clear answer.

    The request was sent and then the answer was lost (connection closed, read timeout) or was a
    502/504, which Braze may send after applying the request. Braze may or may not have applied it;
    resending events or purchases would count them twice, so the client reports this instead.
    """


class BrazeRateLimitWaitError(BrazeError):
    """A rate-limit wait longer than the request may still wait (its ``max_retry_seconds``).

    Raised instead of sleeping in vain: after a 429 whose ``X-RateLimit-Reset`` lies beyond what is
    left of the request's budget, or when the client-side rate limiter, steered by Braze's headers,
    would hold the request past it. Braze applied nothing of the request either way (a 429 is a
    refusal; a request held back never left), so its objects are ``failed`` and may be sent again.

    :param seconds: the wait that was asked for.
    :param why: who asked and on what grounds, e.g. ``Braze asked to wait 99,999 s (HTTP 429, ...)``.
    :param group: the Braze rate-limit group.
    :param request: ``METHOD /path`` of the request, once known.
    :param max_retry_seconds: the request's whole budget, once known.
    :param left: what was left of the budget when the wait was asked for.
    """

    #: A later attempt (or run) may succeed once Braze's window has passed.
    retryable = True

    def __init__(
        self,
        seconds: float,
        why: str,
        *,
        group: str,
        request: str | None = None,
        max_retry_seconds: float | None = None,
        left: float | None = None,
    ) -> None:
        self.seconds, self.why, self.group = seconds, why, group
        self.request, self.max_retry_seconds, self.left = request, max_retry_seconds, left
        budget = f"max_retry_seconds={self.max_retry_seconds:g}" if max_retry_seconds is not None else "the budget"
        spare = f" ({left:.1f} s left)" if left is not None else ""
        where = f"{request}: " if request else ""
        super().__init__(
            f"{where}{why}, beyond {budget}{spare}; the request fails now instead of waiting "
            "(Braze applied none of it, so its rows can be sent again)"
        )

    def for_request(self, request: str, max_retry_seconds: float) -> BrazeRateLimitWaitError:
        """The same error, naming the request and its budget (the rate limiter knows neither)."""
        return BrazeRateLimitWaitError(
            self.seconds,
            self.why,
            group=self.group,
            request=request,
            max_retry_seconds=max_retry_seconds,
            left=self.left,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {"group": self.group, "request": self.request, "max_retry_seconds": self.max_retry_seconds}
        return (_rebuild_wait_error, (self.seconds, self.why, kwargs, self.left))


def _rebuild_wait_error(
    seconds: float, why: str, kwargs: dict[str, Any], left: float | None
) -> BrazeRateLimitWaitError:
    return BrazeRateLimitWaitError(seconds, why, left=left, **kwargs)


class BrazeCancelledError(BrazeError):
    """The send was cancelled (the task got SIGTERM, passed its ``execution_timeout``, or its run was
    cancelled) before this request got an answer from Braze.

    A request stopped while it waited (for a slot, the rate limiter or a retry) was not sent again,
    so its objects are ``failed`` and safe to send again; one whose earlier attempt Braze may have
    applied ends ``unknown`` instead (see
    :meth:`~airflow_provider_braze.braze.exchange.Exchange.gave_up`).
    """

    retryable = True


_BY_STATUS: dict[int, type[BrazeAPIError]] = {
    400: BrazeBadRequestError,
    401: BrazeAuthenticationError,
    403: BrazePermissionError,
    404: BrazeNotFoundError,
    413: BrazePayloadTooLargeError,
    429: BrazeRateLimitError,
}


def error_for_status(
    status_code: int,
    message: str,
    errors: list[Any] | None = None,
    endpoint: str | None = None,
    headers: dict[str, str] | None = None,
) -> BrazeAPIError:
    """Build the typed exception for an HTTP error response."""
    if status_code == 429 and "another job is in progress" in (message or "").lower():
        cls: type[BrazeAPIError] = BrazeJobInProgressError
    elif status_code >= 500:
        cls = BrazeServerError
    else:
        cls = _BY_STATUS.get(status_code, BrazeAPIError)
    return cls(status_code, message, errors, endpoint, headers)
