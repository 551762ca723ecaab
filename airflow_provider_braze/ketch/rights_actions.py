"""What a correction or a restriction of processing changes on the Braze profiles a request names.

Ketch's forwarder protocol carries "only the basic details" of a correction
(https://github.com/ketch-com/ketch-forwarder/blob/main/api/dsr/v1/Correction.md): the corrected
details are the request's ``subject`` (``firstName``, ``lastName``, ``city``, ``countryCode``...) and,
for custom form fields, its ``formData``. A correction therefore becomes a Braze profile update
(``/users/track`` attributes) of the fields the subject carries, each checked by the same rule an
export applies to that attribute; empty values are ignored, as the protocol says of subject patches.
The subject's ``email`` is how the requester was identified, not a correction, and is never written.

Braze has no per-purpose restriction of processing. A ``RestrictProcessingRequest``
(https://github.com/ketch-com/ketch-forwarder/blob/main/api/dsr/v1/RestrictProcessing.md) therefore
becomes an unsubscribe from all: the global email and push states set to ``unsubscribed`` and,
when configured, every listed subscription group (SMS, WhatsApp) unsubscribed too
(https://www.braze.com/docs/api/endpoints/user_data/post_user_track).

Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_braze.records.profile import PROFILE_FIELDS
from airflow_provider_braze.records.values import Invalid

#: Subject fields a correction carries and the Braze standard attributes they set. A key
#: ``formData.<name>`` reads a custom form field of the request.
CORRECTED_FIELDS: Mapping[str, str] = {
    "firstName": "first_name",
    "lastName": "last_name",
    "city": "home_city",
    "countryCode": "country",
}

#: The attributes of an unsubscribe from all (global states; groups are added per request).
UNSUBSCRIBE_ALL: Mapping[str, str] = {"email_subscribe": "unsubscribed", "push_subscribe": "unsubscribed"}

_FORM_DATA = "formData."


@dataclass(frozen=True)
class Correction:
    """The attributes a correction sets, and the subject fields it could not use.

    :param attributes: ``{braze attribute: value}``, each value checked by Braze's rule for it.
    :param refused: ``(subject field, reason)`` for each value that breaks the rule (never the value:
        it is personal data).
    """

    attributes: dict[str, Any] = field(default_factory=dict, repr=False)
    refused: list[tuple[str, str]] = field(default_factory=list)


def _subject_value(subject: Mapping[str, Any], key: str) -> Any:
    if key.startswith(_FORM_DATA):
        form = subject.get("formData") or {}
        return form.get(key[len(_FORM_DATA) :]) if isinstance(form, Mapping) else None
    return subject.get(key)


def correction(subject: Mapping[str, Any] | None, fields: Mapping[str, str] = CORRECTED_FIELDS) -> Correction:
    """The Braze attributes a ``CorrectionRequest``'s subject sets.

    :param subject: the request's ``subject`` in wire form (camelCase keys).
    :param fields: ``{subject field or "formData.<name>": Braze attribute}``.
    """
    result = Correction()
    for key, attribute in (fields or {}).items():
        value = _subject_value(subject or {}, key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        rule = PROFILE_FIELDS.get(attribute)
        try:
            result.attributes[attribute] = rule(value) if rule is not None else value
        except Invalid:
            result.refused.append((key, f"{key} is not a valid value for Braze's {attribute}"))
    return result


def unsubscribe_all(subscription_group_ids: Iterable[str] = ()) -> dict[str, Any]:
    """The attributes of an unsubscribe from all, with each listed subscription group unsubscribed."""
    attributes: dict[str, Any] = dict(UNSUBSCRIBE_ALL)
    groups = [{"subscription_group_id": g, "subscription_state": "unsubscribed"} for g in subscription_group_ids]
    if groups:
        attributes["subscription_groups"] = groups
    return attributes


def profile_updates(users: Sequence[Mapping[str, Any]], attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One ``/users/track`` attributes object per exported profile, naming it by ``external_id`` (or
    ``braze_id`` for a profile without one) and never creating a profile."""
    objects = []
    for user in users:
        key = "external_id" if user.get("external_id") else "braze_id"
        if user.get(key):
            objects.append({key: user[key], "_update_existing_only": True, **attributes})
    return objects
