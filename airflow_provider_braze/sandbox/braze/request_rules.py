"""Request-level rules read from the endpoint catalogue: body shape, item limits, mixing of keys.

All of them are fatal: a request that breaks one gets HTTP 400 and nothing in it is applied
(https://www.braze.com/docs/api/errors/; the limits:
https://www.braze.com/docs/api/api_limits/). Per-object rules (which only reject one object) live in ``track_rules``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow_provider_braze.braze.endpoints import Endpoint
from airflow_provider_braze.sandbox.braze.messages import Response, error

#: Braze's own words when email and phone are both sent to the subscription endpoints
#: (https://www.braze.com/docs/api/endpoints/subscription_groups/post_update_user_subscription_group_status).
EMAIL_AND_PHONE_MESSAGE = "Either an email address or a phone number should be provided, but not both."

#: Body keys that Braze accepts as a single string as well as an array (``"email": "a@b.c"``).
STRING_OR_ARRAY_KEYS = frozenset({"email"})


def parse_json_object(raw: bytes) -> dict[str, Any] | Response:
    """The body as a JSON object, or the 400 to answer."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return error(400, "Invalid JSON in request body")
    if not isinstance(body, dict):
        return error(400, "Request body must be a JSON object")
    return body


def as_list(value: Any) -> list[Any]:
    """A body key's items: a lone string counts as one item."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def present_keys(endpoint: Endpoint, body: dict[str, Any]) -> list[str]:
    """The endpoint's body keys this request actually carries (``null`` counts as absent)."""
    return [key for key in endpoint.body_keys if body.get(key) is not None]


def check_limits(endpoint: Endpoint, body: dict[str, Any]) -> Response | None:
    """Apply the catalogue's limits for ``endpoint`` to ``body``; the fatal 400, or ``None``.

    Checked in this order: each body key is an array; keys are not mixed where
    ``mix_body_keys`` is false; no array holds more than ``max_items``; the request holds no more
    than ``max_total_items`` (each object weighted by :meth:`Endpoint.weight`).
    """
    keys = present_keys(endpoint, body)
    for key in keys:
        value = body[key]
        if not isinstance(value, list) and not (key in STRING_OR_ARRAY_KEYS and isinstance(value, str)):
            return error(400, f"'{key}' must be an array")
    if endpoint.exclusive_keys and endpoint.exclusive_keys <= set(keys):
        return error(400, EMAIL_AND_PHONE_MESSAGE)
    if not endpoint.mix_body_keys and len(keys) > 1:
        if {"email", "phone"} <= set(keys):
            return error(400, EMAIL_AND_PHONE_MESSAGE)
        return error(400, f"Only one of {_quoted(keys)} may be given per request")
    if endpoint.max_items is not None:
        for key in keys:
            if len(as_list(body[key])) > endpoint.max_items:
                return error(400, endpoint.too_many_message)
    if endpoint.max_total_items is not None:
        total = sum(endpoint.weight(obj) for key in keys for obj in as_list(body[key]))
        if total > endpoint.max_total_items:
            return error(400, endpoint.too_many_message)
    return None


def count_objects(endpoint: Endpoint, body: dict[str, Any] | None) -> int:
    """Objects in the request's arrays (for the request log)."""
    if not body:
        return 0
    return sum(len(as_list(body.get(key))) for key in endpoint.body_keys)


def _quoted(keys: Sequence[str]) -> str:
    return ", ".join(f"'{k}'" for k in keys)


def nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def alias_problem(alias: Any, field: str = "user_alias") -> str | None:
    """Why a user-alias object is malformed (``{"alias_name": str, "alias_label": str}``), or ``None``."""
    if not isinstance(alias, dict):
        return f"'{field}' must be an object with 'alias_name' and 'alias_label'"
    if not nonempty_str(alias.get("alias_name")) or not nonempty_str(alias.get("alias_label")):
        return f"'{field}' needs a non-empty 'alias_name' and 'alias_label'"
    return None


PRIORITIZATION_VALUES = ("identified", "unidentified", "most_recently_updated", "least_recently_updated")


def prioritization_problem(value: Any, allowed: Sequence[str] = PRIORITIZATION_VALUES) -> str | None:
    """Why a ``prioritization`` array is unusable, or ``None``.

    .. seealso:: https://www.braze.com/docs/api/endpoints/user_data/post_user_identify,
        https://www.braze.com/docs/api/endpoints/user_data/post_user_delete
    """
    if not isinstance(value, list) or not value:
        return "'prioritization' is required and must be a non-empty array"
    if any(v not in allowed for v in value):
        return f"'prioritization' values must be among {', '.join(allowed)}"
    if "identified" in value and "unidentified" in value:
        return "'prioritization' may hold only one of 'identified' and 'unidentified'"
    if len(set(value)) != len(value):
        return "'prioritization' repeats a value"
    return None


def prioritize(users: list, prioritization: list[str]) -> list:
    """Narrow candidate profiles by Braze's ``prioritization`` order; more than one left means ambiguous."""
    for rule in prioritization:
        if len(users) <= 1:
            break
        if rule == "identified":
            users = [u for u in users if u.identified] or users
        elif rule == "unidentified":
            users = [u for u in users if not u.identified] or users
        elif rule == "most_recently_updated":
            users = [max(users, key=lambda u: u.update_seq)]
        elif rule == "least_recently_updated":
            users = [min(users, key=lambda u: u.update_seq)]
    return users
