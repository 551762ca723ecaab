"""Reading a Braze HTTP response, the same for the requests and httpx transports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from airflow_provider_braze import redaction
from airflow_provider_braze.braze.errors import BrazeAPIError, error_for_status


class _Response(Protocol):
    """What both ``requests.Response`` and ``httpx.Response`` offer."""

    # Read-only properties on both libraries, so the protocol declares them as properties.
    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


def response_body(resp: _Response) -> dict[str, Any]:
    """The JSON object Braze answered, or ``{"message": <text>}`` when it was not one."""
    if not resp.content:
        return {}
    try:
        body = resp.json()
    except ValueError:
        return {"message": resp.text[:500]}
    return body if isinstance(body, dict) else {"message": str(body)[:500]}


def error_from_response(
    status_code: int, body: Mapping[str, Any], reason: str | None, endpoint: str, headers: Mapping[str, str], key: str
) -> BrazeAPIError:
    """The typed error for a non-2xx answer, with Braze's ``message`` and ``errors`` and the key redacted."""
    raw_message, raw_errors = body.get("message"), body.get("errors")
    message = raw_message if isinstance(raw_message, str) else reason or "error"
    errors = raw_errors if isinstance(raw_errors, list) else None
    return error_for_status(status_code, redact(message, key), errors, endpoint, dict(headers))


def redact(text: str, key: str) -> str:
    """``text`` with the API key replaced, should Braze ever echo it back."""
    return redaction.redact(text, (key,))


def redact_body(value: Any, key: str) -> Any:
    """A parsed JSON body with the API key replaced in every string, keys included.

    Whatever Braze echoes (a ``message``, an ``errors`` entry's ``type`` or ``input_array``) goes on
    to exception text, task logs and rejected-row files: it is cleaned once, as it is read.
    """
    return redaction.redact_value(value, (key,))
