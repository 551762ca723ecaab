"""Per-object rules of ``/users/track``: a broken object is named in ``errors`` and skipped, the rest apply.

Error ``type`` texts: the missing-identifier text is the one Braze's live API returns (its page,
https://www.braze.com/docs/api/endpoints/user_data/post_user_track, shows only the shape); the others
are the sandbox's own wording, since Braze documents only ``<minor error message>``.
Where Braze's pages are silent the sandbox rejects rather than guesses (module docstring of
``track`` lists those choices).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_braze.records.currencies import ISO_4217
from airflow_provider_braze.sandbox.braze import attributes as custom
from airflow_provider_braze.sandbox.braze.profile import STANDARD_FIELDS
from airflow_provider_braze.sandbox.braze.request_rules import alias_problem, nonempty_str
from airflow_provider_braze.sandbox.braze.timeparse import parse_event_time, parse_iso8601

MISSING_IDENTIFIER = "'external_id' or 'braze_id' or 'user_alias' is required"
PRIMARY_IDENTIFIERS = ("external_id", "braze_id", "user_alias")
CONTROL_KEYS = frozenset({"_update_existing_only", "_merge_objects", "push_token_import"})
SUBSCRIPTION_KEYS = frozenset({"email_subscribe", "push_subscribe", "subscription_groups"})
SUBSCRIBE_STATES = frozenset({"opted_in", "subscribed", "unsubscribed"})
GROUP_STATES = frozenset({"subscribed", "unsubscribed"})
GENDERS = frozenset({"M", "F", "O", "N", "P"})
RESERVED_PROPERTY_KEYS = frozenset({"time", "event_name"})
MAX_EVENT_PROPERTY_BYTES, MAX_PURCHASE_PROPERTY_BYTES = 100_000, 50_000
MAX_PRODUCT_ID_CHARS, MAX_QUANTITY = 255, 100


@dataclass(frozen=True)
class Identifier:
    """How an object names its profile: ``kind`` is one of external_id, braze_id, user_alias, email, phone."""

    kind: str
    value: Any

    @property
    def key(self) -> tuple:
        value = (self.value["alias_name"], self.value["alias_label"]) if self.kind == "user_alias" else self.value
        return (self.kind, value)


def identifier(obj: dict[str, Any]) -> Identifier | str:
    """The object's identifier, or the error text. Email wins over phone (https://www.braze.com/docs/api/endpoints/user_data/post_user_track)."""
    primary = [k for k in PRIMARY_IDENTIFIERS if obj.get(k) is not None]
    if len(primary) > 1:
        return "only one of 'external_id', 'braze_id' or 'user_alias' may be given"
    if primary:
        kind = primary[0]
        value = obj[kind]
        if kind == "user_alias":
            problem = alias_problem(value)
            return problem or Identifier(kind, value)
        return Identifier(kind, value) if nonempty_str(value) else f"'{kind}' must be a non-empty string"
    for kind in ("email", "phone"):
        if obj.get(kind) is not None:
            return Identifier(kind, obj[kind]) if nonempty_str(obj[kind]) else f"'{kind}' must be a non-empty string"
    return MISSING_IDENTIFIER


def _common_problem(obj: Any) -> tuple[Identifier | None, str | None]:
    if not isinstance(obj, dict):
        return None, "object expected"
    ident = identifier(obj)
    if isinstance(ident, str):
        return None, ident
    for key in ("_update_existing_only", "_merge_objects", "push_token_import"):
        if key in obj and not isinstance(obj[key], bool):
            return None, f"'{key}' must be a boolean"
    return ident, None


def attributes_problem(obj: Any) -> str | None:
    """Why an attributes object is rejected, or ``None``. Nested values are judged per request instead."""
    if isinstance(obj, dict) and obj.get("push_token_import") is True:
        return _push_import_problem(obj)
    _ident, problem = _common_problem(obj)
    if problem:
        return problem
    for key, value in obj.items():
        if key in CONTROL_KEYS or key in PRIMARY_IDENTIFIERS:
            continue
        problem = _standard_problem(key, value) if _is_standard(key) else _custom_problem(key, value)
        if problem:
            return problem
    return None


def _is_standard(key: str) -> bool:
    return key in STANDARD_FIELDS or key in SUBSCRIPTION_KEYS or key in ("email", "phone", "push_tokens")


def _custom_problem(key: str, value: Any) -> str | None:
    if custom.kind_of(value) == "nested":
        # The value is judged with the request's other nested values; a bad key still rejects the object.
        return None if 0 < len(key) <= custom.MAX_KEY_CHARS else custom.object_problem(key, value)
    return custom.object_problem(key, value)


def _standard_problem(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if key in ("email_subscribe", "push_subscribe"):
        return None if value in SUBSCRIBE_STATES else f"'{key}' must be one of opted_in, subscribed, unsubscribed"
    if key == "subscription_groups":
        return _groups_problem(value)
    if key == "gender":
        return None if value in GENDERS else "'gender' must be one of M, F, O, N, P or null"
    if key == "dob":
        ok = bool(isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) and parse_iso8601(value))
        return None if ok else "'dob' must be a date in YYYY-MM-DD form"
    if key == "current_location":
        ok = (
            isinstance(value, dict)
            and set(value) == {"longitude", "latitude"}
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values())
        )
        return None if ok else '\'current_location\' must be {"longitude": number, "latitude": number}'
    if key == "push_tokens":
        ok = isinstance(value, list) and all(
            isinstance(t, dict) and nonempty_str(t.get("app_id")) and nonempty_str(t.get("token")) for t in value
        )
        return None if ok else "'push_tokens' must be an array of objects with 'app_id' and 'token'"
    if key in ("email_open_tracking_disabled", "email_click_tracking_disabled"):
        return None if isinstance(value, bool) else f"'{key}' must be a boolean"
    if isinstance(value, str):
        return None
    return f"'{key}' must be a string"


def _groups_problem(value: Any) -> str | None:
    if not isinstance(value, list):
        return "'subscription_groups' must be an array"
    for group in value:
        if not isinstance(group, dict) or not nonempty_str(group.get("subscription_group_id")):
            return "'subscription_groups' items need a 'subscription_group_id'"
        if group.get("subscription_state") not in GROUP_STATES:
            return "'subscription_state' must be 'subscribed' or 'unsubscribed'"
    return None


def _push_import_problem(obj: dict[str, Any]) -> str | None:
    if obj.get("external_id") is not None or obj.get("braze_id") is not None:
        return "'push_token_import' objects must not carry 'external_id' or 'braze_id'"
    tokens = obj.get("push_tokens")
    if not tokens:
        return "'push_token_import' objects need 'push_tokens'"
    return _standard_problem("push_tokens", tokens)


def _properties_problem(properties: Any, max_bytes: int) -> str | None:
    if properties is None:
        return None
    if not isinstance(properties, dict):
        return "'properties' must be an object"
    for key, value in properties.items():
        if not key or len(key) > 255:
            return "property names must be 1 to 255 characters"
        if key.startswith("$"):
            return f"property name '{key}' must not start with '$'"
        if key in RESERVED_PROPERTY_KEYS:
            return f"property name '{key}' is reserved"
        if isinstance(value, str) and len(value) > 255:
            return f"property '{key}' is longer than 255 characters"
        if isinstance(value, float) and not math.isfinite(value):
            return f"property '{key}' is not a finite number"
    if any(isinstance(v, (dict, list)) for v in properties.values()) and (
        len(json.dumps(properties, separators=(",", ":"), ensure_ascii=False).encode()) > max_bytes
    ):
        return f"'properties' with arrays or objects must be at most {max_bytes // 1000} KB"
    return None


def _occurrence_problem(
    obj: dict[str, Any], parse_time: Callable[[Any], object], time_format: str, max_property_bytes: int
) -> str | None:
    """What events and purchases share, checked last: ``time``, ``app_id`` and ``properties``.

    :param parse_time: the object's time parser; ``None`` when it cannot read the value.
    :param time_format: the formats it reads, for the message.
    :param max_property_bytes: the object's cap on its ``properties`` (as JSON).
    """
    if obj.get("time") is None:
        return "'time' is required"
    if parse_time(obj["time"]) is None:
        return f"'time' must be {time_format}"
    if obj.get("app_id") is not None and not isinstance(obj["app_id"], str):
        return "'app_id' must be a string"
    return _properties_problem(obj.get("properties"), max_property_bytes)


def event_problem(obj: Any) -> str | None:
    """Why an event object is rejected, or ``None``.

    .. seealso:: https://www.braze.com/docs/api/objects_filters/event_object/
    """
    _, problem = _common_problem(obj)
    if problem:
        return problem
    if not nonempty_str(obj.get("name")):
        return "'name' is required and must be a non-empty string"
    return _occurrence_problem(
        obj, parse_event_time, "ISO 8601 or yyyy-MM-dd'T'HH:mm:ss:SSSZ", MAX_EVENT_PROPERTY_BYTES
    )


def purchase_problem(obj: Any) -> str | None:
    """Why a purchase object is rejected, or ``None``.

    .. seealso:: https://www.braze.com/docs/api/objects_filters/purchase_object/
    """
    _, problem = _common_problem(obj)
    if problem:
        return problem
    product_id = obj.get("product_id")
    if not nonempty_str(product_id):
        return "'product_id' is required and must be a non-empty string"
    if len(product_id) > MAX_PRODUCT_ID_CHARS:
        return f"'product_id' must be at most {MAX_PRODUCT_ID_CHARS} characters"
    if obj.get("currency") not in ISO_4217:
        return "'currency' must be an ISO 4217 alphabetic currency code"
    price = obj.get("price")
    if not isinstance(price, (int, float)) or isinstance(price, bool) or not math.isfinite(price):
        return "'price' is required and must be a number"
    quantity = obj.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        return f"'quantity' must be an integer from 1 to {MAX_QUANTITY}"
    return _occurrence_problem(obj, parse_iso8601, "ISO 8601", MAX_PURCHASE_PROPERTY_BYTES)


VALIDATORS = {"attributes": attributes_problem, "events": event_problem, "purchases": purchase_problem}
