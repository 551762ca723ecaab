"""Posting rights-request status events to the callback URLs Ketch gave with each request.

A callback's headers carry Ketch's credentials: they are sent, never logged. The URL came from a
webhook body, so it must be https (plain http only to loopback, for the sandbox). A callback that
answers 409 has already recorded a ``completed`` status (Ketch accepts nothing after it): that counts
as delivered, so a retried run does not fail on what an earlier attempt already told Ketch.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import requests
import tenacity

from airflow_provider_braze.braze.instances import is_loopback
from airflow_provider_braze.ketch.models import Callback, KetchModel

log = logging.getLogger(__name__)

_RETRYABLE = frozenset({429, 500, 502, 503, 504})


class CallbackError(Exception):
    """A status event could not be delivered to a callback."""


class CallbackRejected(CallbackError):
    """The callback refused the status event (a 4xx other than 409); resending will not help."""


def check_callback_url(url: str) -> None:
    """Refuse anything but https (or http to loopback), so a webhook body cannot aim us elsewhere."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return
    raise CallbackRejected(f"callback URL scheme/host not allowed: {parts.scheme}://{parts.hostname}")


def post_status_event(
    session: requests.Session, callback: Callback, event: KetchModel, *, timeout: float = 30.0, attempts: int = 5
) -> int:
    """POST one status event to one callback, retrying 429, 5xx and connection errors; return the status.

    :raises CallbackRejected: for a 4xx other than 409, or a URL that is not allowed.
    :raises CallbackError: when every attempt failed.
    """
    check_callback_url(callback.url)
    body = event.to_json()
    headers = {"Content-Type": "application/json", **(callback.headers or {})}

    def attempt() -> int:
        response = session.post(callback.url, data=body, headers=headers, timeout=timeout)
        if response.status_code in _RETRYABLE:
            raise CallbackError(f"callback answered HTTP {response.status_code}")
        if response.status_code == 409 or 200 <= response.status_code < 300:
            return response.status_code
        raise CallbackRejected(f"callback refused the status event with HTTP {response.status_code}")

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type((CallbackError, requests.ConnectionError, requests.Timeout))
        & tenacity.retry_if_not_exception_type(CallbackRejected),
        wait=tenacity.wait_random_exponential(multiplier=0.5, max=30),
        stop=tenacity.stop_after_attempt(attempts),
        reraise=True,
    )
    try:
        return retrying(attempt)
    except requests.RequestException as exc:
        raise CallbackError(f"callback unreachable: {type(exc).__name__}") from exc
