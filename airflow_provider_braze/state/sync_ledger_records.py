"""What an export run and the sync ledger hand each other: the run as the ledger knows it, a batch's
record (written in one transaction), and what writing it found."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SyncRun:
    """A run of a sync as the ledger knows it.

    :param sync_id: the sync's id.
    :param run: this task run's id (shared by its attempts).
    :param salt: the key of every digest in this store.
    :param attempt: how many attempts of this run the ledger has seen, this one included.
    :param open_problems: rows of earlier runs still waiting to be accepted.
    :param as_of: the run's logical date (unix seconds), if it has one.
    :param created: this run made the sync (its ledger starts empty).
    :param elsewhere: keys of other syncs of the same kind whose owner is in this task's DAG or has
        this task's id (set when ``created``: a renamed task or DAG would have left its history there).
    """

    sync_id: int
    run: int
    salt: bytes
    attempt: int
    open_problems: int
    as_of: float | None = None
    created: bool = False
    elsewhere: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recorded:
    """What writing a batch's record found.

    :param recovered: rows of earlier runs' problems now accepted.
    :param unclaimed: keys among its intents that another run (or an earlier attempt) holds: their
        objects must not be sent.
    """

    recovered: int = 0
    unclaimed: frozenset[bytes] = frozenset()


#: A row that did not end accepted: ``(item_key, row_ref, status, column, reason)``.
Problem = tuple["bytes | None", "str | None", str, "str | None", "str | None"]


@dataclass
class BatchRecord:
    """What one batch's outcomes change in the ledger (written in one transaction).

    :param intents: events, purchases and increments about to be sent: ``(item_key, row_ref)``.
    :param users: accepted attribute rows: ``(user_hash, source row digest, fingerprints, data points)``.
    :param accepted_keys: events, purchases and increments Braze accepted.
    :param unknown_keys: those whose outcome is unknown.
    :param released_keys: those Braze refused or that failed: forgotten, so a later run sends them.
    :param problems: rows not accepted: ``(item_key, row_ref, status, column, reason)``.
    :param resolved: keys of rows accepted now (their open problems are closed).
    :param reclaim: intents may take back keys of unknown outcome (``retry_ambiguous``).
    """

    intents: list[tuple[bytes, str | None]] = field(default_factory=list)
    users: list[tuple[bytes, bytes, bytes, int]] = field(default_factory=list)
    accepted_keys: list[bytes] = field(default_factory=list)
    unknown_keys: list[bytes] = field(default_factory=list)
    released_keys: list[bytes] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    resolved: list[bytes] = field(default_factory=list)
    reclaim: bool = False

    def extend(self, other: BatchRecord) -> None:
        """Add another batch's changes (to write several batches in one transaction)."""
        for name in ("intents", "users", "accepted_keys", "unknown_keys", "released_keys", "problems", "resolved"):
            getattr(self, name).extend(getattr(other, name))
        self.reclaim = self.reclaim or other.reclaim
