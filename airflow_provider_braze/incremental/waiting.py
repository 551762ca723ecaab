"""Rows waiting for an earlier row of their user: the last row of a user wins, whatever the latency.

Braze applies ``/users/track`` requests as they arrive. Two rows of one user sent in two requests at
once could arrive in either order (one answer is slow, another thread is faster), and the earlier
row's values would then be the ones Braze keeps. So a row whose user has an earlier row in flight
waits here, in source order, until that row's outcome is recorded; it is then decided afresh against
what the ledger holds (sending only what still differs). At most one row of a user is ever in flight.

Waiting rows leave at the start of each chunk whose planning finds their user free, and at the end
of the source, where the planner tells the batcher to send what it holds (the earlier rows may sit in
a partial batch) and waits for their answers.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from airflow_provider_braze.state.sync_ledger import user_key


class WaitingRows:
    """Prepared rows by user, each user's in source order (used from the planning thread only).

    :ivar rows: user hash -> its waiting rows; ``user in rows`` is the check a planned row makes (one
        dict lookup: the planner keeps a reference to it).
    :ivar keys: the ledger's 64-bit user keys of the waiting users (rows settled by their digest know
        only those).
    """

    def __init__(self) -> None:
        self.rows: dict[bytes, deque[Any]] = {}
        self.keys: set[int] = set()

    def __bool__(self) -> bool:
        return bool(self.rows)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def __contains__(self, user: bytes) -> bool:
        return user in self.rows

    def users(self) -> set[bytes]:
        return set(self.rows)

    def add(self, user: bytes, prepared: Any) -> None:
        """Queue a row behind its user's earlier ones."""
        rows = self.rows.get(user)
        if rows is None:
            rows = self.rows[user] = deque()
            self.keys.add(user_key(user))
        rows.append(prepared)

    def first_of(self, users: set[bytes]) -> list[tuple[bytes, Any]]:
        """Take the first waiting row of each of these users, oldest users first."""
        taken = []
        for user in [u for u in self.rows if u in users]:
            rows = self.rows[user]
            taken.append((user, rows.popleft()))
            if not rows:
                del self.rows[user]
                self.keys.discard(user_key(user))
        return taken

    def put_back(self, user: bytes, later: deque[Any]) -> None:
        """Return rows taken out with their user's queue (see :meth:`take_queue`), ahead of any others."""
        if later:
            self.rows[user] = later
            self.keys.add(user_key(user))

    def take_queue(self, user: bytes) -> deque[Any]:
        """Take a user's remaining rows out while its first row is decided (so that row does not wait
        behind them); give them back with :meth:`put_back`."""
        rows = self.rows.pop(user, deque())
        if rows:
            self.keys.discard(user_key(user))
        return rows
