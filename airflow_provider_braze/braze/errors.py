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
