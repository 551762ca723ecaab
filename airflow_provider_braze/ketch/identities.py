"""Ketch identities in the form Braze takes them: the subscription sync and the rights requests share it.

Braze matches an email case-insensitively and a phone only in E.164
(https://www.braze.com/docs/api/endpoints/subscription_groups/post_update_user_subscription_group_status_v2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from airflow_provider_braze.ketch.models import Identity

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")


def normalise_identifier(kind: str, value: str) -> str | None:
    """Braze's form of an identifier, or ``None`` when it cannot be one (phones must be E.164).

    :param kind: ``emails``, ``phones`` or ``external_ids``.
    :param value: the identity's value as Ketch sent it.
    """
    value = value.strip()
    if kind == "emails":
        return value.lower() if "@" in value else None
    if kind == "phones":
        phone = _PHONE_PUNCTUATION.sub("", value)
        return phone if _E164.match(phone) else None
    return value or None


def braze_identifiers(
    identities: Iterable[Identity], spaces: Mapping[str, str], subject_email: str | None = None
) -> dict[str, set[str]]:
    """The raw identities Braze can look up, by kind; hashed and malformed ones are left out.

    :param identities: a request's identities.
    :param spaces: ``{Ketch identity space: "emails" | "phones" | "external_ids"}``.
    :param subject_email: an email the requester typed, also looked up when given.
    """
    wanted: dict[str, set[str]] = {"external_ids": set(), "emails": set(), "phones": set()}
    found = [(spaces.get(i.identity_space), i.identity_value) for i in identities if i.identity_format == "raw"]
    if subject_email:
        found.append(("emails", subject_email))
    for kind, raw in found:
        value = normalise_identifier(kind, raw) if kind else None
        if kind and value:
            wanted[kind].add(value)
    return wanted
