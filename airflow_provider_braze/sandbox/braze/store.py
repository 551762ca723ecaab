"""The sandbox's memory: profiles, events, purchases, email lists and counters, behind one lock.

Two faces. Handlers take :attr:`UserStore.lock` for a whole request and use the lookups and
mutators (``get_*``, ``create_user``, ``set_email`` ...), which hand out live objects. Tests and the
inspection endpoints use the query API (``users()``, ``find_user()``, ``events()`` ...), which takes
the lock itself and returns copies, so a running server cannot change what a test is looking at.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from airflow_provider_braze.sandbox.braze.email_lists import EmailEntry, EmailLists
from airflow_provider_braze.sandbox.braze.profile import User, norm_email


class UserStore:
    """Thread-safe in-memory state of one Braze workspace."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        #: ``{subscription_group_id: {"channel": ..., "name": ...}}``; configuration, kept by :meth:`clear`.
        self.subscription_group_registry: dict[str, dict[str, str]] = {}
        self.clear()

    def clear(self) -> None:
        """Forget all data (profiles, events, lists, counters); keep configuration."""
        with self.lock:
            self._users: dict[str, User] = {}
            self._by_external_id: dict[str, str] = {}
            self._by_alias: dict[tuple[str, str], str] = {}
            self._by_email: dict[str, set[str]] = {}
            self._by_phone: dict[str, set[str]] = {}
            self._events: list[dict[str, Any]] = []
            self._purchases: list[dict[str, Any]] = []
            #: Distinct purchase ``product_id``s seen (Braze caps a workspace at 5,000).
            self.product_ids: set[str] = set()
            self.email_lists = EmailLists()
            self._data_points = 0
            self.counters: Counter[str] = Counter()
            self._deleted: list[dict[str, Any]] = []
            self._merges: list[dict[str, Any]] = []
            self._seq = itertools.count(1)

    # --- lookups and mutators (caller holds the lock) -----------------------------------------------

    def get_by_braze_id(self, braze_id: str) -> User | None:
        return self._users.get(braze_id)

    def get_by_external_id(self, external_id: str) -> User | None:
        braze_id = self._by_external_id.get(external_id)
        return self._users.get(braze_id) if braze_id else None

    def get_by_alias(self, alias_name: str, alias_label: str) -> User | None:
        braze_id = self._by_alias.get((alias_name, alias_label))
        return self._users.get(braze_id) if braze_id else None

    def get_by_email(self, email: str) -> list[User]:
        return [self._users[b] for b in self._by_email.get(norm_email(email), ())]

    def get_by_phone(self, phone: str) -> list[User]:
        return [self._users[b] for b in self._by_phone.get(phone, ())]

    @staticmethod
    def preferred(users: list[User]) -> User | None:
        """Braze's pick among profiles sharing an email or phone: newest identified, else newest
        (https://www.braze.com/docs/api/endpoints/user_data/post_user_track)."""
        if not users:
            return None
        identified = [u for u in users if u.identified]
        return max(identified or users, key=lambda u: u.update_seq)

    def create_user(self, *, external_id: str | None = None) -> User:
        now = time.time()
        user = User(braze_id=secrets.token_hex(12), created_at=now, updated_at=now, update_seq=next(self._seq))
        self._users[user.braze_id] = user
        if external_id is not None:
            self.set_external_id(user, external_id)
        self.counters["users_created"] += 1
        return user

    def touch(self, user: User) -> None:
        user.updated_at = time.time()
        user.update_seq = next(self._seq)

    def set_external_id(self, user: User, external_id: str) -> None:
        if user.external_id is not None:
            self._by_external_id.pop(user.external_id, None)
        user.external_id = external_id
        self._by_external_id[external_id] = user.braze_id

    def add_alias(self, user: User, alias_name: str, alias_label: str) -> None:
        old = user.aliases.get(alias_label)
        if old is not None:
            self._by_alias.pop((old, alias_label), None)
        user.aliases[alias_label] = alias_name
        self._by_alias[(alias_name, alias_label)] = user.braze_id

    def set_email(self, user: User, email: str | None, *, adopt_global_state: bool = True) -> None:
        """Change a profile's email; a global state already recorded for the address is adopted."""
        if user.email is not None:
            self._by_email.get(norm_email(user.email), set()).discard(user.braze_id)
        user.email = email
        if email is None:
            return
        self._by_email.setdefault(norm_email(email), set()).add(user.braze_id)
        entry = self.email_lists.get(email)
        if adopt_global_state and entry is not None and entry.state is not None:
            user.email_subscribe = entry.state

    def set_phone(self, user: User, phone: str | None) -> None:
        if user.phone is not None:
            self._by_phone.get(user.phone, set()).discard(user.braze_id)
        user.phone = phone
        if phone is not None:
            self._by_phone.setdefault(phone, set()).add(user.braze_id)

    def remove_user(self, user: User) -> None:
        """Drop a profile and its indexes (events and purchases are dealt with by the caller)."""
        self._users.pop(user.braze_id, None)
        if user.external_id is not None:
            self._by_external_id.pop(user.external_id, None)
        for label, name in user.aliases.items():
            self._by_alias.pop((name, label), None)
        self.set_email(user, None)
        self.set_phone(user, None)

    def delete_user(self, user: User, requested_by: str) -> None:
        """``/users/delete``: the profile and everything recorded for it disappear."""
        self._deleted.append(
            {
                "braze_id": user.braze_id,
                "external_id": user.external_id,
                "user_aliases": user.user_aliases,
                "email": user.email,
                "phone": user.phone,
                "requested_by": requested_by,
                "deleted_at": time.time(),
            }
        )
        self.remove_user(user)
        self._events = [e for e in self._events if e["braze_id"] != user.braze_id]
        self._purchases = [p for p in self._purchases if p["braze_id"] != user.braze_id]

    def move_records(self, source: User, target: User) -> None:
        """Re-home a merged profile's events and purchases (or refresh their ``external_id``)."""
        for record in itertools.chain(self._events, self._purchases):
            if record["braze_id"] == source.braze_id:
                record["braze_id"] = target.braze_id
                record["external_id"] = target.external_id

    def record_merge(self, **details: Any) -> None:
        self._merges.append({**details, "at": time.time()})

    def add_event(self, event: dict[str, Any]) -> None:
        self._events.append(event)

    def add_purchase(self, purchase: dict[str, Any]) -> None:
        self._purchases.append(purchase)

    def records_of(self, user: User) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return (
            [e for e in self._events if e["braze_id"] == user.braze_id],
            [p for p in self._purchases if p["braze_id"] == user.braze_id],
        )

    def bill(self, user: User | None, points: int) -> None:
        """Count data points the way Braze bills them (see ``track``)."""
        self._data_points += points
        if user is not None:
            user.data_points += points

    def iter_users(self) -> Iterator[User]:
        return iter(self._users.values())

    # --- query API for tests and inspection (takes the lock, returns copies) -----------------------

    @property
    def data_points(self) -> int:
        """Data points billed since the last reset."""
        with self.lock:
            return self._data_points

    def users(self) -> list[User]:
        with self.lock:
            return [copy.deepcopy(u) for u in self._users.values()]

    def find_user(
        self,
        *,
        external_id: str | None = None,
        braze_id: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        alias: tuple[str, str] | None = None,
    ) -> User | None:
        """One profile by one identifier (``alias`` is ``(alias_name, alias_label)``); a copy, or ``None``.

        For an email or phone shared by several profiles this is the one Braze would pick.
        """
        with self.lock:
            if external_id is not None:
                user = self.get_by_external_id(external_id)
            elif braze_id is not None:
                user = self.get_by_braze_id(braze_id)
            elif alias is not None:
                user = self.get_by_alias(*alias)
            elif email is not None:
                user = self.preferred(self.get_by_email(email))
            elif phone is not None:
                user = self.preferred(self.get_by_phone(phone))
            else:
                raise TypeError("find_user needs one identifier")
            return copy.deepcopy(user)

    def find_users(self, *, email: str | None = None, phone: str | None = None) -> list[User]:
        """Every profile with that email (or phone)."""
        with self.lock:
            found = self.get_by_email(email) if email is not None else self.get_by_phone(phone or "")
            return [copy.deepcopy(u) for u in found]

    def _records(
        self, records: list[dict[str, Any]], external_id: str | None, braze_id: str | None, **match: Any
    ) -> list[dict[str, Any]]:
        with self.lock:
            if external_id is not None:
                user = self.get_by_external_id(external_id)
                if user is None:
                    return []
                braze_id = user.braze_id
            return [
                copy.deepcopy(r)
                for r in records
                if (braze_id is None or r["braze_id"] == braze_id)
                and all(v is None or r.get(k) == v for k, v in match.items())
            ]

    def events(
        self, *, external_id: str | None = None, braze_id: str | None = None, name: str | None = None
    ) -> list[dict[str, Any]]:
        """Events recorded, optionally for one profile and one event name, oldest first."""
        return self._records(self._events, external_id, braze_id, name=name)

    def purchases(
        self, *, external_id: str | None = None, braze_id: str | None = None, product_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Purchases recorded (one record per purchase object, with its ``quantity``), oldest first."""
        return self._records(self._purchases, external_id, braze_id, product_id=product_id)

    def subscription_state(self, subscription_group_id: str, **identifier: Any) -> str | None:
        """A profile's state in one group (``subscribed``/``unsubscribed``), ``None`` when never set."""
        user = self.find_user(**identifier)
        return user.subscription_groups.get(subscription_group_id) if user else None

    def email_entry(self, email: str) -> EmailEntry | None:
        """The global state of one address (subscription state, bounce, spam, blocklist), a copy."""
        with self.lock:
            return copy.deepcopy(self.email_lists.get(email))

    def email_state(self, email: str) -> str | None:
        entry = self.email_entry(email)
        return entry.state if entry else None

    def unsubscribed_emails(self) -> list[str]:
        with self.lock:
            return sorted(e.email for e in self.email_lists.with_state("unsubscribed"))

    def hard_bounced_emails(self) -> list[str]:
        with self.lock:
            return sorted(e.email for e in self.email_lists.hard_bounced())

    def spam_emails(self) -> list[str]:
        with self.lock:
            return sorted(e.email for e in self.email_lists.entries.values() if e.spam_at is not None)

    def blocklisted_emails(self) -> list[str]:
        with self.lock:
            return sorted(e.email for e in self.email_lists.entries.values() if e.blocklisted_at is not None)

    def mark_hard_bounced(self, email: str) -> None:
        """Put an address on the hard-bounce list, as an ESP bounce would (for tests)."""
        with self.lock:
            self.email_lists.mark_hard_bounced(email, time.time())

    def mark_spam(self, email: str) -> None:
        """Put an address on the spam list, as a spam report would (for tests)."""
        with self.lock:
            self.email_lists.mark_spam(email, time.time())

    def deleted(self) -> list[dict[str, Any]]:
        """Profiles removed by ``/users/delete``, with the identifiers they had."""
        with self.lock:
            return copy.deepcopy(self._deleted)

    def deleted_ids(self) -> set[str]:
        """``external_id``s and ``braze_id``s of deleted profiles."""
        with self.lock:
            return {i for d in self._deleted for i in (d["external_id"], d["braze_id"]) if i}

    def merges(self) -> list[dict[str, Any]]:
        """What ``/users/identify`` did per item (merged, external_id added, or not combined and why)."""
        with self.lock:
            return copy.deepcopy(self._merges)

    def counts(self) -> dict[str, Any]:
        """How much the workspace holds, without the data (``GET /_sandbox/counts``; cheap at any size)."""
        with self.lock:
            return {
                "users": len(self._users),
                "events": len(self._events),
                "purchases": len(self._purchases),
                "data_points": self._data_points,
                "counters": dict(self.counters),
            }

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-ready data (served by ``GET /_sandbox/state``)."""
        with self.lock:
            return {
                "users": [u.to_dict() for u in self._users.values()],
                "events": copy.deepcopy(self._events),
                "purchases": copy.deepcopy(self._purchases),
                "emails": [e.to_dict() for e in self.email_lists.entries.values()],
                "data_points": self._data_points,
                "counters": dict(self.counters),
                "deleted": copy.deepcopy(self._deleted),
                "merges": copy.deepcopy(self._merges),
                "subscription_group_registry": copy.deepcopy(self.subscription_group_registry),
            }
