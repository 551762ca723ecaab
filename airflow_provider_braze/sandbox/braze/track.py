"""``/users/track`` (and its ``bulk`` and ``sync`` variants): attributes, events and purchases applied to profiles.

Follows https://www.braze.com/docs/api/endpoints/user_data/post_user_track: every object names one
profile (external_id, braze_id, user_alias, or email then phone); a broken object is reported in
``errors`` (``type``, ``input_array``, ``index``) and every other object is applied; attributes go
first, then events, then purchases; the answer is 201 with ``<array>_processed`` counts only for arrays
sent.

Creation rules: an unknown ``external_id`` creates a profile unless ``_update_existing_only`` is
true; a ``user_alias`` creates one only from an attributes object with ``"_update_existing_only":
false`` (events and purchases never create alias profiles); an unknown email or phone creates an
email-only / phone-only profile unless ``_update_existing_only`` is true; a ``braze_id`` never
creates one. Objects for profiles that are not found and not created are counted as processed
(Braze queues them) and change nothing.

Data points follow Braze's billing: one per attribute key written (even when the value is
unchanged, ``null`` included), one per event and per purchase object; identifiers, the
``_update_existing_only`` / ``_merge_objects`` / ``push_token_import`` flags and subscription
states (``email_subscribe``, ``push_subscribe``, ``subscription_groups``) are free.

Sandbox choices where Braze's documentation is silent:

* an object with more than one of ``external_id`` / ``braze_id`` / ``user_alias`` is rejected;
* standard fields are type-checked (``gender`` one of M/F/O/N/P, ``dob`` YYYY-MM-DD,
  ``email_subscribe``/``push_subscribe`` one of the three states, ``subscription_groups`` items);
  ``country`` that is not two letters is stored as null, as Braze does for unknown countries;
* a custom attribute key over 255 characters, or a top-level string value over 255 characters,
  rejects the object;
* future event times are clamped to now, purchase times are stored as sent;
* the nested-attribute check covers every attributes object in the request, also those rejected
  for another reason, and ``store.counters["nested_updates_dropped"]`` counts the drops;
* ``email_subscribe`` on a profile with an email also sets that address's global state (used by
  ``/email/unsubscribes``); other profiles with the address keep theirs;
* ``/users/track/bulk`` rejects the whole request (400) when more than 100 objects name one profile;
* ``/users/track/sync`` answers 201 with ``users``: the profile in ``/users/export/ids`` shape.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from datetime import datetime
from typing import Any, cast

from airflow_provider_braze.sandbox.braze import attributes as custom
from airflow_provider_braze.sandbox.braze.context import Call
from airflow_provider_braze.sandbox.braze.messages import Response, error, success
from airflow_provider_braze.sandbox.braze.profile import STANDARD_FIELDS, User
from airflow_provider_braze.sandbox.braze.timeparse import accepted, iso, parse_event_time, parse_iso8601
from airflow_provider_braze.sandbox.braze.track_rules import (
    CONTROL_KEYS,
    PRIMARY_IDENTIFIERS,
    SUBSCRIPTION_KEYS,
    VALIDATORS,
    Identifier,
    identifier,
)

TRACK_KEYS = ("attributes", "events", "purchases")
MAX_OBJECTS_PER_PROFILE_BULK = 100


def handle_track(call: Call) -> Response:
    """Validate every object, then apply the valid ones under the store lock."""
    body = call.body or {}
    sent = [key for key in TRACK_KEYS if body.get(key) is not None]
    if not sent:
        return error(400, "Request must contain 'attributes', 'events' or 'purchases'")
    if call.endpoint.name == "users/track/bulk" and _too_many_per_profile(body, sent):
        return error(400, f"More than {MAX_OBJECTS_PER_PROFILE_BULK} objects for one user profile")

    errors: list[dict[str, Any]] = []
    valid: dict[str, list[tuple[int, dict]]] = {key: [] for key in sent}
    for key in sent:
        for index, obj in enumerate(body[key]):
            problem = VALIDATORS[key](obj)
            if problem:
                errors.append({"type": problem, "input_array": key, "index": index})
            else:
                valid[key].append((index, obj))
    drop_nested = _nested_invalid(body.get("attributes") or [])

    store = call.store
    touched: list[User] = []
    with store.lock:
        if drop_nested:
            store.counters["nested_updates_dropped"] += 1
        applier = _Applier(call, drop_nested)
        for key in sent:
            for index, obj in valid[key]:
                user, problem = applier.apply(key, obj)
                if problem:
                    errors.append({"type": problem, "input_array": key, "index": index})
                elif user is not None:
                    touched.append(user)
        counts = {f"{key}_processed": len(body[key]) - sum(e["input_array"] == key for e in errors) for key in sent}
        if call.endpoint.name == "users/track/sync":
            counts["users"] = [
                u.export(*store.records_of(u)) for u in dict.fromkeys(touched) if store.get_by_braze_id(u.braze_id)
            ]
    errors.sort(key=lambda e: (TRACK_KEYS.index(e["input_array"]), e["index"]))
    return success(201, errors, **counts)


def _too_many_per_profile(body: dict[str, Any], sent: list[str]) -> bool:
    per_profile: Counter[tuple] = Counter()
    for key in sent:
        for obj in body[key]:
            ident = identifier(obj) if isinstance(obj, dict) else None
            if isinstance(ident, Identifier):
                per_profile[ident.key] += 1
    return any(n > MAX_OBJECTS_PER_PROFILE_BULK for n in per_profile.values())


def _nested_invalid(objects: list[Any]) -> bool:
    """Whether any nested custom attribute in the request is invalid (then all nested updates drop)."""
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        merge = obj.get("_merge_objects") is True
        for key, value in obj.items():
            if key in CONTROL_KEYS or key in PRIMARY_IDENTIFIERS or key in STANDARD_FIELDS:
                continue
            if key in ("email", "phone", "push_tokens") or key in SUBSCRIPTION_KEYS:
                continue
            if custom.kind_of(value) == "nested" and custom.nested_problem(value, merge):
                return True
    return False


class _Applier:
    """Applies valid objects of one request; the caller holds the store lock."""

    def __init__(self, call: Call, drop_nested: bool) -> None:
        self.call = call
        self.store = call.store
        self.settings = call.settings
        self.drop_nested = drop_nested
        self.now = time.time()

    def apply(self, key: str, obj: dict[str, Any]) -> tuple[User | None, str | None]:
        if key == "attributes" and obj.get("push_token_import") is True:
            created = self.store.create_user()
            self._push_tokens(created, obj["push_tokens"])
            self._finish_attributes(created, 1)
            return created, None
        # The object passed validation, which refuses one without an identifier (the error text case).
        ident = cast(Identifier, identifier(obj))
        if key == "purchases" and not self._product_allowed(obj["product_id"]):
            return None, f"workspace already holds {self.settings.max_product_ids} product IDs"
        user = self._resolve(ident, obj, creates=key == "attributes")
        if user is None:
            self.store.counters[f"{key}_without_profile"] += 1
            return None, None
        {"attributes": self._attributes, "events": self._event, "purchases": self._purchase}[key](user, obj, ident)
        return user, None

    # --- which profile ----------------------------------------------------------------------------

    def _resolve(self, ident: Identifier, obj: dict[str, Any], creates: bool) -> User | None:
        store, update_only = self.store, obj.get("_update_existing_only")
        if ident.kind == "external_id":
            user = store.get_by_external_id(ident.value)
            return user if user or update_only is True else store.create_user(external_id=ident.value)
        if ident.kind == "braze_id":
            return store.get_by_braze_id(ident.value)
        if ident.kind == "user_alias":
            name, label = ident.value["alias_name"], ident.value["alias_label"]
            user = store.get_by_alias(name, label)
            if user is None and creates and update_only is False:
                user = store.create_user()
                store.add_alias(user, name, label)
            return user
        found = store.get_by_email(ident.value) if ident.kind == "email" else store.get_by_phone(ident.value)
        user = store.preferred(found)
        if user is None and update_only is not True:
            user = store.create_user()
            if ident.kind == "email":
                store.set_email(user, ident.value, adopt_global_state="email_subscribe" not in obj)
            else:
                store.set_phone(user, ident.value)
        return user

    def _product_allowed(self, product_id: str) -> bool:
        known = self.store.product_ids
        if product_id in known:
            return True
        if len(known) >= self.settings.max_product_ids:
            return False
        known.add(product_id)
        return True

    # --- attributes -------------------------------------------------------------------------------

    def _attributes(self, user: User, obj: dict[str, Any], ident: Identifier) -> None:
        points = 0
        merge = obj.get("_merge_objects") is True
        subscriptions = []
        for key, value in obj.items():
            if key in CONTROL_KEYS or key in PRIMARY_IDENTIFIERS or key == ident.kind:
                continue
            if key in SUBSCRIPTION_KEYS:
                subscriptions.append((key, value))  # after the email is set, which they may refer to
            elif key == "email":
                self.store.set_email(user, value, adopt_global_state="email_subscribe" not in obj)
                points += 1
            elif key == "phone":
                self.store.set_phone(user, value)
                points += 1
            elif key == "push_tokens":
                self._push_tokens(user, value or [])
                points += 1
            elif key in STANDARD_FIELDS:
                self._standard(user, key, value)
                points += 1
            elif custom.kind_of(value) == "nested" and self.drop_nested:
                continue
            elif custom.apply_custom(
                user.custom_attributes, key, value, merge_objects=merge, array_max_length=self.settings.array_max_length
            ):
                points += 1
        for key, value in subscriptions:
            self._subscription(user, key, value)
        self._finish_attributes(user, points)

    def _finish_attributes(self, user: User, points: int) -> None:
        user.attribute_objects_applied += 1
        self.store.bill(user, points)
        self.store.touch(user)

    def _standard(self, user: User, key: str, value: Any) -> None:
        if key == "country" and value is not None:
            value = value.upper() if re.fullmatch(r"[A-Za-z]{2}", value) else None
        if value is None:
            user.attributes.pop(key, None)
            return
        user.attributes[key] = value
        if key == "marked_email_as_spam_at" and user.email:
            self.store.email_lists.mark_spam(user.email, self.now)

    def _subscription(self, user: User, key: str, value: Any) -> None:
        if key == "subscription_groups":
            # Braze applies a group state to every profile sharing the email (user attributes object page).
            sharing = self.store.get_by_email(user.email) if user.email else []
            for profile in {u.braze_id: u for u in [user, *sharing]}.values():
                for group in value or []:
                    profile.subscription_groups[group["subscription_group_id"]] = group["subscription_state"]
                if profile is not user:
                    self.store.touch(profile)
            return
        setattr(user, key, value)
        if key == "email_subscribe" and user.email and value is not None:
            self.store.email_lists.set_state(user.email, value, self.now)

    @staticmethod
    def _push_tokens(user: User, tokens: list[dict[str, Any]]) -> None:
        kept = {t["token"]: t for t in user.push_tokens}
        kept.update({t["token"]: dict(t) for t in tokens})
        user.push_tokens = list(kept.values())

    # --- events and purchases ---------------------------------------------------------------------

    def _record(self, user: User, obj: dict[str, Any], moment: datetime | float) -> dict[str, Any]:
        return {
            "id": uuid.uuid4().hex,
            "braze_id": user.braze_id,
            "external_id": user.external_id,
            "time": iso(moment),
            "app_id": obj.get("app_id"),
            "properties": obj.get("properties") or {},
            "received_at": iso(self.now),
        }

    def _event(self, user: User, obj: dict[str, Any], ident: Identifier) -> None:
        moment = min(accepted(parse_event_time(obj["time"])).timestamp(), self.now)
        self.store.add_event({**self._record(user, obj, moment), "name": obj["name"]})
        user.events_applied += 1
        self.store.bill(user, 1)
        self.store.touch(user)

    def _purchase(self, user: User, obj: dict[str, Any], ident: Identifier) -> None:
        record = self._record(user, obj, accepted(parse_iso8601(obj["time"])))
        record.update(
            product_id=obj["product_id"], currency=obj["currency"], price=obj["price"], quantity=obj.get("quantity", 1)
        )
        self.store.add_purchase(record)
        user.purchases_applied += 1
        self.store.bill(user, 1)
        self.store.touch(user)
