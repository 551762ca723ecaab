"""What a Ketch-to-Braze sync last applied per Braze target, so a late-arriving change loses to a newer one.

Collapsing within one run picks each target's latest change. Across runs, an event that Ketch
delivered late (after its retries) may be older than one already synced. The event store reads these
rows (:meth:`~airflow_provider_braze.state.ketch_events.KetchEventStore.applied`) before sending and
writes them in the same transaction that settles the events
(:meth:`~airflow_provider_braze.state.ketch_events.KetchEventStore.settle`); the functions here are
the SQL of both, on a connection the store opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from airflow_provider_braze.state.schema import ketch_sync_targets

_CHUNK = 500


@dataclass(frozen=True)
class AppliedTarget:
    """The decision a sync last applied to one target.

    :param fingerprint: the target's key.
    :param state: ``subscribed`` or ``unsubscribed``.
    :param submitted_at: when the user made that choice (unix seconds).
    :param event_id: the event that carried it.
    """

    fingerprint: str
    state: str
    submitted_at: float
    event_id: int

    @property
    def order(self) -> tuple[float, int]:
        return (self.submitted_at, self.event_id)


def read_applied(conn: Connection, fingerprints: Sequence[str]) -> dict[str, AppliedTarget]:
    """What was last applied to these targets (absent: never synced).

    :param conn: an open connection.
    :param fingerprints: the targets' keys, without duplicates.
    """
    t = ketch_sync_targets.c
    found: dict[str, AppliedTarget] = {}
    for i in range(0, len(fingerprints), _CHUNK):
        rows = conn.execute(
            select(t.fingerprint, t.state, t.submitted_at, t.event_id).where(
                t.fingerprint.in_(fingerprints[i : i + _CHUNK])
            )
        )
        found.update({r.fingerprint: AppliedTarget(*r) for r in rows})
    return found


def write_applied(
    conn: Connection,
    applied: Sequence[AppliedTarget],
    known: Mapping[str, AppliedTarget],
    now: float,
    run_id: str,
) -> None:
    """Record targets Braze accepted; an older decision never overwrites a newer one.

    :param conn: a connection inside a write transaction.
    :param applied: the targets Braze accepted.
    :param known: what was applied before, as :func:`read_applied` returned it in that transaction.
    :param now: unix seconds, kept as ``synced_at``.
    :param run_id: the sync run, kept for audit.
    """
    t = ketch_sync_targets.c
    for target in applied:
        previous = known.get(target.fingerprint)
        values = {
            "state": target.state,
            "submitted_at": target.submitted_at,
            "event_id": target.event_id,
            "synced_at": now,
            "sync_run_id": run_id,
        }
        if previous is None:
            conn.execute(ketch_sync_targets.insert().values(fingerprint=target.fingerprint, **values))
        elif target.order > previous.order:
            conn.execute(update(ketch_sync_targets).where(t.fingerprint == target.fingerprint).values(**values))
