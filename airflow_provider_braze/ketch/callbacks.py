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

from airflow_provider_braze.ketch.models import Callback, KetchModel
from airflow_provider_braze.outbound.policy import RETRYABLE_STATUSES, HttpPolicy, HttpStatusError, retry_after_seconds
from airflow_provider_braze.outbound.urls import is_loopback

log = logging.getLogger(__name__)

#: How a status event is sent: Ketch's callbacks are idempotent per status, so every failure that may
#: pass is retried, briefly (up to 30 s between attempts).
CALLBACK_POLICY = HttpPolicy(timeout=(10.0, 30.0), max_attempts=5, backoff_base=0.5, backoff_max=30.0, reset_jitter=0.0)


class CallbackError(HttpStatusError):
    """A status event could not be delivered to a callback (retried while its status allows)."""


class CallbackRejected(CallbackError):
    """The callback refused the status event (a 4xx other than 409); resending will not help."""

    @property
    def retryable(self) -> bool:
        return False


def check_callback_url(url: str) -> None:
    """Refuse anything but https (or http to loopback), so a webhook body cannot aim us elsewhere."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return
    raise CallbackRejected(f"callback URL scheme/host not allowed: {parts.scheme}://{parts.hostname}")


def post_status_event(
    session: requests.Session, callback: Callback, event: KetchModel, *, policy: HttpPolicy = CALLBACK_POLICY
) -> int:
    """POST one status event to one callback, retrying 429, 5xx and connection errors; return the status.

    :param session: the session to send with.
    :param callback: where to send, with the headers (Ketch's credentials) to send along.
    :param event: the status event.
    :param policy: timeouts and retries.
    :raises CallbackRejected: for a 4xx other than 409, or a URL that is not allowed.
    :raises CallbackError: when every attempt failed.
    """
    check_callback_url(callback.url)
    body = event.to_json()
    headers = {"Content-Type": "application/json", **(callback.headers or {})}

    def attempt() -> int:
        response = session.post(callback.url, data=body, headers=headers, timeout=policy.timeout)
        status = response.status_code
        if status == 409 or 200 <= status < 300:
            return status
        if status in RETRYABLE_STATUSES:
            wait = retry_after_seconds(response.headers)
            raise CallbackError(f"callback answered HTTP {status}", status_code=status, retry_after=wait)
        raise CallbackRejected(f"callback refused the status event with HTTP {status}", status_code=status)

    # The headers are Ketch's credentials: keep them out of the retry log, whatever an error echoes.
    retrying = policy.retrying(describe=lambda: "Ketch status callback", secrets=(callback.headers or {}).values())
    try:
        return retrying(attempt)
    except requests.RequestException as exc:
        raise CallbackError(f"callback unreachable: {type(exc).__name__}") from exc
