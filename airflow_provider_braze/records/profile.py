"""Braze's standard profile fields: their names and the value each accepts.

.. seealso:: https://www.braze.com/docs/api/objects_filters/user_attributes_object/

A column named like one of these fields (case-sensitive, lower case, as Braze spells them) sets
that field; every other column is a custom attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_braze.records.identifiers import email_address, phone_number
from airflow_provider_braze.records.rules import (
    braze_time,
    calendar_date,
    choice,
    country_code,
    language_code,
    text,
    time_zone_name,
)
from airflow_provider_braze.records.values import (
    MAX_TEXT,
    Invalid,
    parse_json,
    plain,
    show,
    to_bool,
    to_number,
    type_name,
)

GENDERS = ("M", "F", "O", "N", "P")
SUBSCRIBE_STATES = ("opted_in", "subscribed", "unsubscribed")
SUBSCRIPTION_GROUP_STATES = ("subscribed", "unsubscribed")


def _text(value: Any) -> str:
    return text(value, MAX_TEXT)


def _gender(value: Any) -> str:
    try:
        return choice(value, GENDERS, upper=True)
    except Invalid:
        raise Invalid(
            f"{show(value)} is not one of Braze's genders: M (male), F (female), O (other), "
            "N (not applicable), P (prefer not to say)"
        ) from None


def _subscribe(value: Any) -> str:
    return choice(value, SUBSCRIBE_STATES)


def _structured(value: Any) -> Any:
    # These fields can only be arrays or objects, so JSON text is parsed even if the column is not
    # listed in pre_formatted_fields.
    return parse_json(value) if isinstance(value, str) else value


def _current_location(value: Any) -> dict[str, float]:
    value = _structured(value)
    if not isinstance(value, Mapping) or set(value) != {"latitude", "longitude"}:
        raise Invalid('must be an object {"latitude": ..., "longitude": ...}')
    location = {}
    for key, bound in (("latitude", 90), ("longitude", 180)):
        number = to_number(value[key])
        if not -bound <= number <= bound:
            raise Invalid(f"has {key} {number}, outside -{bound}..{bound}")
        location[key] = number
    return location


def _objects(
    value: Any, field: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[Mapping[str, Any]]:
    value = _structured(value)
    if not isinstance(value, (list, tuple)):
        raise Invalid(f"must be an array of objects, not {type_name(value)}")
    result = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise Invalid(f"has {type_name(item)} at [{index}]; each {field} entry must be an object")
        missing = [key for key in required if item.get(key) in (None, "")]
        if missing:
            raise Invalid(f"has an entry at [{index}] without {missing[0]}")
        extra = [key for key in item if key not in required and key not in optional]
        if extra:
            raise Invalid(f"has an entry at [{index}] with the unknown key {show(extra[0])}")
        result.append(item)
    return result


def _subscription_groups(value: Any) -> list[Mapping[str, Any]]:
    groups = _objects(value, "subscription group", ("subscription_group_id", "subscription_state"))
    for index, group in enumerate(groups):
        if not isinstance(group["subscription_group_id"], str):
            raise Invalid(f"has a subscription_group_id at [{index}] that is not text")
        if group["subscription_state"] not in SUBSCRIPTION_GROUP_STATES:
            raise Invalid(
                f"has subscription_state {show(group['subscription_state'])} at [{index}]; "
                "it must be subscribed or unsubscribed"
            )
    return groups


def _push_tokens(value: Any) -> list[Mapping[str, Any]]:
    tokens = _objects(value, "push token", ("app_id", "token"), ("device_id",))
    for index, token in enumerate(tokens):
        if not all(isinstance(item, str) for item in token.values() if item is not None):
            raise Invalid(f"has an entry at [{index}] whose app_id, token or device_id is not text")
    return tokens


def _social(value: Any) -> Any:
    value = plain(_structured(value))
    if not isinstance(value, Mapping):
        raise Invalid(f"must be an object, not {type_name(value)}")
    return value


#: Standard profile fields and the rule for each value. Identifiers (external_id, braze_id, email,
#: phone) are read by :mod:`identifiers` and set through the same object.
PROFILE_FIELDS: dict[str, Callable[[Any], Any]] = {
    "first_name": _text,
    "last_name": _text,
    "home_city": _text,
    "alias_name": _text,
    "alias_label": _text,
    "email": email_address,
    "phone": phone_number,
    "dob": calendar_date,
    "country": country_code,
    "language": language_code,
    "gender": _gender,
    "time_zone": time_zone_name,
    "current_location": _current_location,
    "date_of_first_session": braze_time,
    "date_of_last_session": braze_time,
    "marked_email_as_spam_at": braze_time,
    "email_subscribe": _subscribe,
    "push_subscribe": _subscribe,
    "email_open_tracking_disabled": to_bool,
    "email_click_tracking_disabled": to_bool,
    "push_tokens": _push_tokens,
    "subscription_groups": _subscription_groups,
    "facebook": _social,
    "twitter": _social,
}
