"""``/users/alias/new``, ``/users/alias/update``, ``/users/delete`` and ``/users/export/ids``.

.. seealso:: https://www.braze.com/docs/api/endpoints/user_data/post_user_alias,
    https://www.braze.com/docs/api/endpoints/user_data/post_user_delete,
    https://www.braze.com/docs/api/endpoints/export/user_data/post_users_identifier

Item-level problems are reported like ``/users/track``'s: ``errors`` entries with ``type``,
``input_array`` and ``index``, the other items applied. Every POST answers 201 (only ``/users/track``
is documented; 201 is the stricter choice for a client that tests ``== 200``).

Sandbox choices where Braze's documentation is silent:

* ``/users/alias/new``: an alias (name and label) that already belongs to another profile, or an
  ``external_id`` profile that already has another alias with that label, is an item error; the
  same item sent again (the alias already on that profile, or on an alias-only profile when no
  ``external_id`` is given) is a no-op success, so a resent request is harmless; an
  ``external_id`` that no profile has changes nothing ("added to no one") and is no error;
  ``aliases_processed`` counts the items without errors.
* ``/users/alias/update``: items are applied in reverse order, since Braze does not guarantee the
  order (a client must not send chains such as a→b, b→c in one request); a new name that is taken
  by another profile is an item error; an unknown old alias changes nothing.
* ``/users/delete``: ``email_addresses`` and ``phone_numbers`` items are
  ``{"email"|"phone": str, "prioritization": [...]}`` with ``identified``, ``unidentified`` or
  ``most_recently_updated``; ``deleted`` counts the valid identifiers queued, found or not (Braze
  deletes asynchronously and cannot know at queue time); an email or phone still matching several
  profiles after prioritization deletes none.
* ``/users/export/ids``: malformed identifiers or ``fields_to_export`` are fatal 400s; mixing the
  array form (``external_ids``/``user_aliases``) with a single identifier, or giving two single
  identifiers, is a 400; ``invalid_user_ids`` lists the ``external_ids`` not found (aliases not
  found are just absent); ``device_id`` finds nobody (the sandbox keeps no devices).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_provider_braze.sandbox.braze.context import Call
from airflow_provider_braze.sandbox.braze.messages import Response, error, success
from airflow_provider_braze.sandbox.braze.request_rules import (
    alias_problem,
    nonempty_str,
    prioritization_problem,
    prioritize,
)

DELETE_PRIORITIZATION = ("identified", "unidentified", "most_recently_updated")
SINGLE_EXPORT_KEYS = ("device_id", "braze_id", "email_address", "phone")
EXPORT_FIELDS = frozenset(
    {
        "apps",
        "attributed_campaign",
        "attributed_source",
        "attributed_adgroup",
        "attributed_ad",
        "braze_id",
        "campaigns_received",
        "canvases_received",
        "country",
        "created_at",
        "custom_attributes",
        "custom_events",
        "devices",
        "dob",
        "email",
        "email_subscribe",
        "external_id",
        "first_name",
        "gender",
        "home_city",
        "language",
        "last_coordinates",
        "last_name",
        "phone",
        "purchases",
        "push_subscribe",
        "push_tokens",
        "random_bucket",
        "time_zone",
        "total_revenue",
        "uninstalled_at",
        "user_aliases",
    }
)


def _item_error(kind: str, input_array: str, index: int) -> dict[str, Any]:
    return {"type": kind, "input_array": input_array, "index": index}


def _apply_items(
    call: Call,
    input_array: str,
    apply: Callable[[Any], str | None],
    *,
    backwards: bool = False,
    processed: str | None = None,
) -> Response:
    """Apply each item of the body's ``input_array`` under the store's lock; answer 201 with the item errors.

    A missing array is a 400; an item ``apply`` finds a problem with is an item error, the others are applied.

    :param apply: checks and applies one item; returns its problem, or ``None``.
    :param backwards: apply the last item first (errors are still listed by index).
    :param processed: the answer's key for the count of items without errors, if it has one.
    """
    items = (call.body or {}).get(input_array)
    if items is None:
        return error(400, f"'{input_array}' is required")
    errors: list[dict[str, Any]] = []
    indexes = reversed(range(len(items))) if backwards else range(len(items))
    with call.store.lock:
        for index in indexes:
            problem = apply(items[index])
            if problem:
                errors.append(_item_error(problem, input_array, index))
    errors.sort(key=lambda e: e["index"])
    counts = {processed: len(items) - len(errors)} if processed else {}
    return success(201, errors, **counts)


# --- /users/alias/new ------------------------------------------------------------------------------


def handle_alias_new(call: Call) -> Response:
    def apply(item: Any) -> str | None:
        return _alias_new_problem(item) or _alias_new_apply(call, item)

    return _apply_items(call, "user_aliases", apply, processed="aliases_processed")


def _alias_new_problem(item: Any) -> str | None:
    problem = alias_problem(item, "user_aliases item")
    if problem:
        return problem
    if item.get("external_id") is not None and not nonempty_str(item["external_id"]):
        return "'external_id' must be a non-empty string"
    return None


def _alias_new_apply(call: Call, item: dict[str, Any]) -> str | None:
    store = call.store
    name, label = item["alias_name"], item["alias_label"]
    owner = store.get_by_alias(name, label)
    if owner is not None:
        # A resent request finds its own alias: nothing to do (the catalogue calls this endpoint idempotent).
        return (
            None
            if owner.external_id == item.get("external_id")
            else f"alias '{name}' with label '{label}' already exists"
        )
    if item.get("external_id") is None:
        created = store.create_user()
        store.add_alias(created, name, label)
        return None
    user = store.get_by_external_id(item["external_id"])
    if user is None:
        store.counters["aliases_added_to_no_one"] += 1
        return None
    if label in user.aliases:
        return f"user already has an alias with label '{label}'"
    store.add_alias(user, name, label)
    store.touch(user)
    return None


# --- /users/alias/update ---------------------------------------------------------------------------


def handle_alias_update(call: Call) -> Response:
    def apply(item: Any) -> str | None:
        return _alias_update_problem(item) or _alias_update_apply(call, item)

    # Last first: Braze does not guarantee an order, and a client must not count on the one it sent.
    return _apply_items(call, "alias_updates", apply, backwards=True)


def _alias_update_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "object expected"
    for key in ("alias_label", "old_alias_name", "new_alias_name"):
        if not nonempty_str(item.get(key)):
            return f"'{key}' is required and must be a non-empty string"
    return None


def _alias_update_apply(call: Call, item: dict[str, Any]) -> str | None:
    store = call.store
    user = store.get_by_alias(item["old_alias_name"], item["alias_label"])
    taken = store.get_by_alias(item["new_alias_name"], item["alias_label"])
    if user is not None and taken is not None and taken is not user:
        return f"alias '{item['new_alias_name']}' with label '{item['alias_label']}' already exists"
    if user is not None:
        store.add_alias(user, item["new_alias_name"], item["alias_label"])
        store.touch(user)
    return None


# --- /users/delete ---------------------------------------------------------------------------------


def handle_delete(call: Call) -> Response:
    body = call.body or {}
    key = next((k for k in call.endpoint.body_keys if body.get(k) is not None), None)
    if key is None:
        return error(400, f"One of {', '.join(call.endpoint.body_keys)} is required")
    errors: list[dict[str, Any]] = []
    queued = 0
    store = call.store
    with store.lock:
        for index, item in enumerate(body[key]):
            problem = _delete_problem(key, item)
            if problem:
                errors.append(_item_error(problem, key, index))
                continue
            queued += 1
            for user in _delete_targets(call, key, item):
                store.delete_user(user, requested_by=key)
    return success(201, errors, deleted=queued)


def _delete_problem(key: str, item: Any) -> str | None:
    if key in ("external_ids", "braze_ids"):
        return None if nonempty_str(item) else "identifier must be a non-empty string"
    if key == "user_aliases":
        return alias_problem(item, "user_aliases item")
    field = "email" if key == "email_addresses" else "phone"
    if not isinstance(item, dict) or not nonempty_str(item.get(field)):
        return f"'{key}' items must be objects with '{field}' and 'prioritization'"
    return prioritization_problem(item.get("prioritization"), DELETE_PRIORITIZATION)


def _delete_targets(call: Call, key: str, item: Any) -> list:
    store = call.store
    if key == "external_ids":
        found = [store.get_by_external_id(item)]
    elif key == "braze_ids":
        found = [store.get_by_braze_id(item)]
    elif key == "user_aliases":
        found = [store.get_by_alias(item["alias_name"], item["alias_label"])]
    else:
        candidates = (
            store.get_by_email(item["email"]) if key == "email_addresses" else store.get_by_phone(item["phone"])
        )
        found = prioritize(candidates, item["prioritization"])
        if len(found) > 1:
            store.counters["deletes_ambiguous"] += 1
            return []
    return [u for u in found if u is not None]


# --- /users/export/ids -----------------------------------------------------------------------------


def handle_export_ids(call: Call) -> Response:
    body = call.body or {}
    problem = _export_problem(call, body)
    if problem:
        return error(400, problem)
    store = call.store
    users, invalid = [], []
    with store.lock:
        found: list = []
        for external_id in body.get("external_ids") or []:
            user = store.get_by_external_id(external_id)
            (found.append(user) if user else invalid.append(external_id))
        for alias in body.get("user_aliases") or []:
            user = store.get_by_alias(alias["alias_name"], alias["alias_label"])
            if user:
                found.append(user)
        if body.get("braze_id") is not None:
            found += [u for u in [store.get_by_braze_id(body["braze_id"])] if u]
        if body.get("email_address") is not None:
            found += store.get_by_email(body["email_address"])
        if body.get("phone") is not None:
            found += store.get_by_phone(body["phone"])
        fields = body.get("fields_to_export")
        for user in dict.fromkeys(found):
            view = user.export(*store.records_of(user))
            users.append({k: v for k, v in view.items() if fields is None or k in fields})
    extra = {"invalid_user_ids": invalid} if invalid else {}
    return success(201, None, users=users, **extra)


def _export_problem(call: Call, body: dict[str, Any]) -> str | None:
    arrays = [k for k in ("external_ids", "user_aliases") if body.get(k) is not None]
    singles = [k for k in SINGLE_EXPORT_KEYS if body.get(k) is not None]
    if not arrays and not singles:
        return "Provide 'external_ids' or 'user_aliases', or one of " + ", ".join(f"'{k}'" for k in SINGLE_EXPORT_KEYS)
    if (arrays and singles) or len(singles) > 1:
        return "Provide either 'external_ids'/'user_aliases' or exactly one of " + ", ".join(SINGLE_EXPORT_KEYS)
    if any(not nonempty_str(i) for i in body.get("external_ids") or []):
        return "'external_ids' must hold non-empty strings"
    for alias in body.get("user_aliases") or []:
        problem = alias_problem(alias, "user_aliases item")
        if problem:
            return problem
    for key in singles:
        if not nonempty_str(body[key]):
            return f"'{key}' must be a non-empty string"
    fields = body.get("fields_to_export")
    if fields is None:
        return "'fields_to_export' is required" if call.settings.require_fields_to_export else None
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        return "'fields_to_export' must be a non-empty array of field names"
    unknown = sorted(set(fields) - EXPORT_FIELDS)
    return f"Invalid 'fields_to_export': {', '.join(unknown)}" if unknown else None
