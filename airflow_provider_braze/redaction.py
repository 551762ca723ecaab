"""One redaction for every path that can carry a secret or personal data out of the provider.

Secrets (Braze's API key, Ketch's bearer token, database passwords) never reach exception text,
logs, XCom or rejected-row files, whatever a server echoes back: what is read from a server is
cleaned with :func:`redact_value` as it is read, messages with :func:`redact`, and each secret is
also handed to Airflow's secrets masker (:func:`register`), which masks task logs and rendered
templates as a second line.

Personal data (emails, phone numbers) is shown in logs masked (:func:`mask_identifier`,
:func:`mask_personal`); the rejected-records file, which the user asked for, keeps the rows as read.

No Airflow import at module level: the Braze client core uses this too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

#: What a secret is replaced by.
HIDDEN = "***"

_EMAIL = re.compile(r"([A-Za-z0-9._%+\-]{1,2})[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
# A phone number in free text: an optional +, then 7 to 15 digits with the usual separators.
_PHONE = re.compile(r"(?<![\w+])(\+?\d{3})[\d ().\-]{4,16}\d(?!\w)")


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by :data:`HIDDEN` (longest first, so one that contains
    another is hidden whole)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, HIDDEN)
    return text


def redact_value(value: Any, secrets: Iterable[str]) -> Any:
    """A parsed JSON value with every secret replaced in every string, object keys included."""
    found = [s for s in secrets if s]
    if not found:
        return value
    return _redact_value(value, found)


def _redact_value(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list):
        return [_redact_value(v, secrets) for v in value]
    if isinstance(value, dict):
        return {_redact_value(k, secrets): _redact_value(v, secrets) for k, v in value.items()}
    return value


def register(secret: str | None) -> None:
    """Hand a secret to Airflow's secrets masker, so task logs and rendered fields never show it."""
    if not secret:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # outside Airflow (the Braze client core used alone)
        return
    mask_secret(secret)


def mask_identifier(identifier: str) -> str:
    """Enough of an email, phone or id to recognise it in a log, not to read it."""
    name, at, domain = identifier.partition("@")
    if at:
        return f"{name[:2]}***@{domain}"
    return identifier[:3] + "***" if len(identifier) > 4 else "***"


def mask_personal(text: str) -> str:
    """Free text (a row's reason, say) with emails and phone numbers in it masked."""
    if "@" in text:
        text = _EMAIL.sub(r"\1***@\2", text)
    return _PHONE.sub(r"\1***", text)
