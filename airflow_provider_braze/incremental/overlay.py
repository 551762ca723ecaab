"""What an export has planned to send and the ledger has not recorded yet.

The planner puts an object here before it leaves and the journal takes it out once its outcome is
committed, so a later row for the same user or key sees the earlier decision: it is either here or
already visible to a ledger read that starts afterwards. It only ever holds the batches in flight,
so its size does not grow with the table.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from airflow_provider_braze.state.sync_ledger import user_key

if TYPE_CHECKING:
    from airflow_provider_braze.incremental.decisions import Entry


class Overlay:
    """Planned, not yet recorded: user hash -> (source row digest, fingerprints, entry); key -> entry.

    Thread-safe: the planner writes on the main thread, sender threads forget.
    """

    def __init__(self) -> None:
        self._users: dict[bytes, tuple[Any, dict[str, int], Entry]] = {}
        # The ledger's 64-bit user key -> user hash: rows settled by their digest know only the key.
        self._user_keys: dict[int, bytes] = {}
        self._keys: dict[bytes, Entry] = {}
        # A condition, so that the planner can wait for users to be let go (see wait_until_free).
        self._lock = threading.Condition()

    def snapshot(self, users: list[bytes], keys: list[bytes]) -> tuple[dict[bytes, Any], dict[bytes, Entry]]:
        """What is held for these users and keys now (read it before the ledger, never after)."""
        with self._lock:
            held_users, held_keys = self._users, self._keys
            pending_users = {u: held_users[u] for u in users if u in held_users} if held_users else {}
            pending_keys = {k: held_keys[k] for k in keys if k in held_keys} if held_keys else {}
        return pending_users, pending_keys

    def held_by_user_key(self) -> dict[int, tuple[bytes, Any]]:
        """Every user held now, by the ledger's user key: ``key -> (user hash, planned)``.

        It only ever holds the batches in flight, so a copy per chunk of rows is cheap; read it before
        the ledger, never after.
        """
        with self._lock:
            users = self._users
            return {k: (u, users[u]) for k, u in self._user_keys.items()}

    def held_users(self) -> set[bytes]:
        """The users held now (read it before the ledger, never after)."""
        with self._lock:
            return set(self._users)

    def wait_until_free(self, users: set[bytes], poll: float = 1.0) -> None:
        """Block until none of ``users`` is held: their batches' outcomes are recorded.

        :param poll: seconds between checks (a signal, Airflow's SIGTERM, is handled between them).
        """
        with self._lock:
            while not users.isdisjoint(self._users):
                self._lock.wait(poll)

    def hold(self, user: bytes | None, planned: Any, key: bytes | None, entry: Entry) -> None:
        """Hold an object about to leave (before it does: its batch may be answered at once)."""
        with self._lock:
            if user is not None:
                self._users[user] = planned
                self._user_keys[user_key(user)] = user
            if key is not None:
                self._keys[key] = entry

    def forget(self, entries: Iterable[Entry | None]) -> None:
        """Let go of objects whose outcome is recorded (or will never be)."""
        with self._lock:
            for entry in entries:
                if entry is None:
                    continue
                if entry.prints is not None:
                    held = self._users.get(entry.item_key)
                    # A later row of the same user may have replaced it: that one is still pending.
                    if held is not None and held[2] is entry:
                        del self._users[entry.item_key]
                        key = user_key(entry.item_key)
                        if self._user_keys.get(key) == entry.item_key:
                            del self._user_keys[key]
                if entry.guard is not None and self._keys.get(entry.guard) is entry:
                    del self._keys[entry.guard]
            self._lock.notify_all()
