"""``/users/identify``: fold an alias-, email- or phone-only profile into the profile with an external_id.

Braze's page (https://www.braze.com/docs/api/endpoints/user_data/post_user_identify): one of
``aliases_to_identify``, ``emails_to_identify``, ``phone_numbers_to_identify`` per request; the
unidentified profile is merged into the profile with that ``external_id`` and removed; when no profile
has the ``external_id`` it is simply added to the unidentified profile; when the target already has an
alias with a label the source's aliases use, nothing is combined. Since 2023-08-07 every call merges,
whatever the legacy ``merge_behavior`` says.

Merge rules (Braze's "merge updates behavior", simplified): the target keeps every value it has;
fields, custom attributes and subscription-group states it lacks are taken from the source; aliases
and push tokens are added; events and purchases move to the target; the per-profile counters add up.

Sandbox choices where Braze's documentation is silent:

* each item's outcome is kept in ``store.merges()``: ``merged``, ``external_id_added``,
  ``not_combined_label_conflict``, ``source_identified``, ``source_not_found``, ``ambiguous``,
  ``already_identified``; only malformed items are reported in ``errors``. An ``external_id`` that
  no profile has is not reported as an error (Braze's page names it a non-fatal error but also says
  the id is added to the profile; the sandbox applies it and stays silent);
* a source profile that already has a different ``external_id`` is not merged;
* ``merge_behavior`` other than ``none``/``merge`` is a fatal 400;
* the response is ``aliases_processed`` (the documented field) for every kind of item, counting
  the items without errors; status 201.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_braze.sandbox.braze.context import Call
from airflow_provider_braze.sandbox.braze.messages import Response, error, success
from airflow_provider_braze.sandbox.braze.profile import User
from airflow_provider_braze.sandbox.braze.request_rules import (
    alias_problem,
    nonempty_str,
    prioritization_problem,
    prioritize,
)

_ITEM_FIELD = {"aliases_to_identify": "user_alias", "emails_to_identify": "email", "phone_numbers_to_identify": "phone"}


def handle_identify(call: Call) -> Response:
    body = call.body or {}
    key = next((k for k in call.endpoint.body_keys if body.get(k) is not None), None)
    if key is None:
        return error(400, f"One of {', '.join(call.endpoint.body_keys)} is required")
    if body.get("merge_behavior") not in (None, "none", "merge"):
        return error(400, "'merge_behavior' must be 'none' or 'merge'")
    errors: list[dict[str, Any]] = []
    store = call.store
    with store.lock:
        for index, item in enumerate(body[key]):
            problem = _item_problem(key, item)
            if problem:
                errors.append({"type": problem, "input_array": key, "index": index})
                continue
            outcome, source = _identify_one(call, key, item)
            store.counters[f"identify_{outcome}"] += 1
            store.record_merge(
                input_array=key,
                index=index,
                external_id=item["external_id"],
                outcome=outcome,
                source_braze_id=source.braze_id if source else None,
            )
    return success(201, errors, aliases_processed=len(body[key]) - len(errors))


def _item_problem(key: str, item: Any) -> str | None:
    if not isinstance(item, dict):
        return "object expected"
    if not nonempty_str(item.get("external_id")):
        return "'external_id' is required and must be a non-empty string"
    field = _ITEM_FIELD[key]
    if field == "user_alias":
        return alias_problem(item.get("user_alias"))
    if not nonempty_str(item.get(field)):
        return f"'{field}' is required and must be a non-empty string"
    return prioritization_problem(item.get("prioritization"))


def _identify_one(call: Call, key: str, item: dict[str, Any]) -> tuple[str, User | None]:
    store = call.store
    if key == "aliases_to_identify":
        alias = item["user_alias"]
        source = store.get_by_alias(alias["alias_name"], alias["alias_label"])
    else:
        found = store.get_by_email(item["email"]) if key == "emails_to_identify" else store.get_by_phone(item["phone"])
        candidates = prioritize(found, item["prioritization"])
        if len(candidates) > 1:
            return "ambiguous", None
        source = candidates[0] if candidates else None
    if source is None:
        return "source_not_found", None
    external_id = item["external_id"]
    if source.external_id is not None:
        return ("already_identified" if source.external_id == external_id else "source_identified"), source
    target = store.get_by_external_id(external_id)
    if target is None:
        store.set_external_id(source, external_id)
        store.move_records(source, source)
        store.touch(source)
        return "external_id_added", source
    if any(label in target.aliases for label in source.aliases):
        return "not_combined_label_conflict", source
    merge_into(call, source, target)
    return "merged", source


def merge_into(call: Call, source: User, target: User) -> None:
    """Fold ``source`` into ``target`` and remove ``source`` (caller holds the lock)."""
    store = call.store
    email, phone = source.email, source.phone
    store.remove_user(source)  # clears the source's email and phone from the indexes (and the object)
    for label, name in source.aliases.items():
        store.add_alias(target, name, label)
    if target.email is None and email is not None:
        store.set_email(target, email, adopt_global_state=False)
    if target.phone is None and phone is not None:
        store.set_phone(target, phone)
    for mine, theirs in (
        (target.attributes, source.attributes),
        (target.custom_attributes, source.custom_attributes),
        (target.subscription_groups, source.subscription_groups),
    ):
        for name, value in theirs.items():
            mine.setdefault(name, value)
    target.email_subscribe = target.email_subscribe or source.email_subscribe
    target.push_subscribe = target.push_subscribe or source.push_subscribe
    known = {t["token"] for t in target.push_tokens}
    target.push_tokens += [t for t in source.push_tokens if t["token"] not in known]
    for counter in ("attribute_objects_applied", "events_applied", "purchases_applied", "data_points"):
        setattr(target, counter, getattr(target, counter) + getattr(source, counter))
    store.move_records(source, target)
    store.touch(target)
