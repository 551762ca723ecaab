"""One classification of transport failures for both HTTP clients (requests and httpx).

What decides whether a failed request may be sent again is whether it could have reached Braze:

* nothing was sent (connection refused, DNS failure, connect or pool timeout):
  :class:`~airflow_provider_braze.braze.errors.BrazeConnectError`, always safe to resend;
* the request was sent and the answer was lost (connection closed or reset while waiting, read or
  write timeout): :class:`~airflow_provider_braze.braze.errors.BrazeResponseLostError`. Braze may
  have applied it, and it has no idempotency key, so events, purchases and increments in it must
  not be resent blindly.

Braze documents no idempotency key for any endpoint:
https://www.braze.com/docs/api/errors/ (fatal errors and retries) and
https://www.braze.com/docs/api/endpoints/user_data/post_user_track (each event is its own event).
"""

from __future__ import annotations

import httpx
import requests
import urllib3.exceptions

from airflow_provider_braze.braze.errors import BrazeConnectError, BrazeResponseLostError, BrazeTransportError

# urllib3 reasons for which no byte of the request left this machine.
_NOT_SENT_REASONS = (
    urllib3.exceptions.NewConnectionError,  # refused, unreachable, DNS (NameResolutionError is a subclass)
    urllib3.exceptions.ConnectTimeoutError,
)


def from_requests(error: requests.RequestException) -> BrazeTransportError | None:
    """The project's error for a ``requests`` failure, or ``None`` when it is not a transport failure.

    requests wraps a failure to connect in ``MaxRetryError`` (the adapter's retry budget of zero ran
    out before a request was sent), while a failure after sending arrives as ``ProtocolError``
    ("Connection aborted", "Remote end closed connection") or ``ReadTimeout``.
    """
    text = _text(error)
    if isinstance(error, requests.ConnectTimeout):
        return BrazeConnectError(f"connect timeout: {text}")
    if isinstance(error, requests.Timeout):
        return BrazeResponseLostError(f"read timeout after the request was sent: {text}")
    if isinstance(error, requests.exceptions.SSLError):
        return BrazeConnectError(f"TLS handshake failed: {text}{_plain_http_hint(text)}")
    if isinstance(error, requests.exceptions.ProxyError):
        return BrazeConnectError(f"proxy refused the connection: {text}")
    if isinstance(error, requests.ConnectionError):
        reason = _urllib3_reason(error)
        if isinstance(reason, _NOT_SENT_REASONS):
            return BrazeConnectError(f"could not connect: {text}")
        return BrazeResponseLostError(f"connection lost after the request was sent: {text}")
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return BrazeResponseLostError(f"answer cut off: {text}")
    return None


def from_httpx(error: httpx.TransportError) -> BrazeTransportError | None:
    """The project's error for an httpx transport failure, or ``None`` (an unsupported URL, say)."""
    text = _text(error)
    if isinstance(error, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return BrazeConnectError(f"connect timeout: {text}")
    if isinstance(error, (httpx.ConnectError, httpx.ProxyError)):
        return BrazeConnectError(f"could not connect: {text}")
    if isinstance(error, httpx.TimeoutException):
        return BrazeResponseLostError(f"timeout after the request was sent: {text}")
    if isinstance(error, (httpx.NetworkError, httpx.RemoteProtocolError)):
        return BrazeResponseLostError(f"connection lost after the request was sent: {text}")
    return None


def _plain_http_hint(text: str) -> str:
    # A connection without a scheme means https; a sandbox on this machine speaks plain HTTP.
    if any(host in text for host in ("127.0.0.1", "localhost", "[::1]")):
        return " (a local sandbox speaks plain HTTP: set the connection's host to http://127.0.0.1 and its port)"
    return ""


def _urllib3_reason(error: requests.ConnectionError) -> BaseException | None:
    cause = error.args[0] if error.args else None
    if isinstance(cause, urllib3.exceptions.MaxRetryError):
        return cause.reason
    return cause if isinstance(cause, BaseException) else None


def _text(error: BaseException) -> str:
    # Exception text from requests/httpx names the URL (never the key, which sits in a header).
    return str(error) or type(error).__name__
