"""Subscription groups: set a state (v1 and v2) and read states back.

.. seealso:: https://www.braze.com/docs/api/endpoints/subscription_groups/post_update_user_subscription_group_status,
    https://www.braze.com/docs/api/endpoints/subscription_groups/post_update_user_subscription_group_status_v2

Sandbox choices where Braze's documentation is silent:

* v1 takes one identifier type per request, as the catalogue says (``mix_body_keys`` false);
  ``email`` with ``phone`` gets Braze's documented message, other mixes a generic 400;
* v2 refuses ``emails`` and ``phones`` in the same request (in one entry or across entries), with
  the v1 message; each entry needs a group id, a state and at least one identifier, and no entry
  array may hold more than the endpoint's ``max_total_items``;
* identifiers that match no profile change nothing (no profile is created, no state is kept for
  later); an email or phone shared by several profiles updates all of them;
* both setters answer 201 ``{"message": "success"}``;
* when groups were registered with ``BrazeSandbox.add_subscription_group``, an unknown
  ``subscription_group_id`` is a 400; with none registered every id is accepted;
* ``GET /subscription/status/get`` reports, for an email or phone on several profiles, the state of
  the profile Braze would pick (newest identified); array parameters are read as ``name[]`` or
  repeated ``name`` (values are not split on commas);
* ``GET /subscription/user/status`` answers in the shape Braze's live API uses
  (``users`` with ``subscription_groups`` of ``{channel, id, name, status}``, plus ``total_count``),
  paging over profiles with ``limit`` (1..100, default 100) and ``offset``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_braze.sandbox.braze.context import Call
from airflow_provider_braze.sandbox.braze.messages import Response, error, success
from airflow_provider_braze.sandbox.braze.request_rules import EMAIL_AND_PHONE_MESSAGE, as_list, nonempty_str

STATES = frozenset({"subscribed", "unsubscribed"})
_DISPLAY: dict[str | None, str] = {"subscribed": "Subscribed", "unsubscribed": "Unsubscribed"}


def _group_problem(call: Call, group_id: Any, state: Any) -> str | None:
    if not nonempty_str(group_id):
        return "'subscription_group_id' is required"
    registry = call.store.subscription_group_registry
    if registry and group_id not in registry:
        return f"Invalid subscription_group_id '{group_id}'"
    if state not in STATES:
        return "'subscription_state' must be 'subscribed' or 'unsubscribed'"
    return None


def _profiles(call: Call, external_ids: list[str], emails: list[str], phones: list[str]) -> list:
    store = call.store
    found = [store.get_by_external_id(e) for e in external_ids]
    found += [u for email in emails for u in store.get_by_email(email)]
    found += [u for phone in phones for u in store.get_by_phone(phone)]
    return list({u.braze_id: u for u in found if u is not None}.values())


def _set(call: Call, group_id: str, state: str, external_ids: list[str], emails: list[str], phones: list[str]) -> None:
    for user in _profiles(call, external_ids, emails, phones):
        user.subscription_groups[group_id] = state
        call.store.touch(user)


def _strings_problem(values: list[Any], key: str) -> str | None:
    return None if all(nonempty_str(v) for v in values) else f"'{key}' must hold non-empty strings"


def handle_status_set_v1(call: Call) -> Response:
    body = call.body or {}
    problem = _group_problem(call, body.get("subscription_group_id"), body.get("subscription_state"))
    ids = {key: as_list(body.get(key)) for key in ("external_id", "email", "phone")}
    if problem is None and not any(ids.values()):
        problem = "Provide 'external_id', 'email' or 'phone'"
    problem = problem or next(filter(None, (_strings_problem(v, k) for k, v in ids.items())), None)
    if problem:
        return error(400, problem)
    with call.store.lock:
        _set(
            call,
            body["subscription_group_id"],
            body["subscription_state"],
            ids["external_id"],
            ids["email"],
            ids["phone"],
        )
    return success(201)


def handle_status_set_v2(call: Call) -> Response:
    entries = (call.body or {}).get("subscription_groups")
    if not entries:
        return error(400, "'subscription_groups' must be a non-empty array")
    if not all(isinstance(e, dict) for e in entries):
        return error(400, "'subscription_groups' items must be objects")
    if any(e.get("emails") for e in entries) and any(e.get("phones") for e in entries):
        return error(400, EMAIL_AND_PHONE_MESSAGE)
    cap = call.endpoint.max_total_items
    for entry in entries:
        problem = _group_problem(call, entry.get("subscription_group_id"), entry.get("subscription_state"))
        lists = {k: entry.get(k) or [] for k in ("external_ids", "emails", "phones")}
        if problem is None and not all(isinstance(v, list) for v in lists.values()):
            problem = "'external_ids', 'emails' and 'phones' must be arrays"
        if problem is None and not any(lists.values()):
            problem = "each subscription group needs 'external_ids', 'emails' or 'phones'"
        if problem is None and cap is not None and any(len(v) > cap for v in lists.values()):
            return error(400, call.endpoint.too_many_message)
        if problem is None and not isinstance(entry.get("use_double_opt_in_logic", False), bool):
            problem = "'use_double_opt_in_logic' must be a boolean"
        problem = problem or next(filter(None, (_strings_problem(v, k) for k, v in lists.items())), None)
        if problem:
            return error(400, problem)
    with call.store.lock:
        for entry in entries:
            _set(
                call,
                entry["subscription_group_id"],
                entry["subscription_state"],
                entry.get("external_ids") or [],
                entry.get("emails") or [],
                entry.get("phones") or [],
            )
    return success(201)


def _query_ids(call: Call) -> tuple[dict[str, list[str]], Response | None]:
    ids = {key: call.query_list(key) for key in ("external_id", "email", "phone")}
    if any(len(v) > 50 for v in ids.values()):
        return ids, error(400, call.endpoint.too_many_message)
    if not any(ids.values()):
        return ids, error(400, "Provide 'external_id', 'email' or 'phone'")
    return ids, None


def handle_status_get(call: Call) -> Response:
    group_id = call.query("subscription_group_id")
    if not group_id:
        return error(400, "'subscription_group_id' is required")
    ids, problem = _query_ids(call)
    if problem:
        return problem
    if not ids["external_id"] and ids["email"] and ids["phone"]:
        return error(400, EMAIL_AND_PHONE_MESSAGE)
    store = call.store
    status: dict[str, str] = {}
    with store.lock:
        if ids["external_id"]:
            lookups = [(i, store.get_by_external_id(i)) for i in ids["external_id"]]
        else:
            lookups = [(e, store.preferred(store.get_by_email(e))) for e in ids["email"]]
            lookups += [(p, store.preferred(store.get_by_phone(p))) for p in ids["phone"]]
        for identifier, user in lookups:
            state = user.subscription_groups.get(group_id) if user else None
            status[identifier] = _DISPLAY.get(state, "Unknown")
    return success(200, status=status)


def handle_user_status(call: Call) -> Response:
    ids, problem = _query_ids(call)
    if problem:
        return problem
    try:
        limit = int(call.query("limit") or 100)
        offset = int(call.query("offset") or 0)
    except ValueError:
        return error(400, "'limit' and 'offset' must be integers")
    if not 1 <= limit <= 100 or offset < 0:
        return error(400, "'limit' must be 1 to 100 and 'offset' at least 0")
    store = call.store
    with store.lock:
        users = _profiles(call, ids["external_id"], ids["email"], ids["phone"])
        registry = store.subscription_group_registry
        rows = [
            {
                "email": u.email,
                "external_id": u.external_id,
                "phone": u.phone,
                "subscription_groups": [
                    {
                        "channel": registry.get(g, {}).get("channel"),
                        "id": g,
                        "name": registry.get(g, {}).get("name"),
                        "status": _DISPLAY[s],
                    }
                    for g, s in sorted(u.subscription_groups.items())
                ],
            }
            for u in users
        ]
    return success(200, total_count=len(rows), users=rows[offset : offset + limit])
