"""What a Ketch-to-Braze sync has applied per Braze target, so late-arriving changes lose to newer ones.

Collapsing within one run picks each target's latest change. Across runs, an event that Ketch
delivered late (after its retries) may be older than one already synced: :meth:`applied` tells the
sync what was last applied, and :meth:`commit_sync` records Braze's acceptances and settles the
events, in one transaction, so a crash between the two cannot mark events without their targets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update

from airflow_provider_braze.state.base import StateStore
from airflow_provider_braze.state.engine import read_transaction, write_transaction
from airflow_provider_braze.state.schema import (
    SYNC_PENDING,
    SYNC_SKIPPED,
    SYNC_SYNCED,
    ketch_events,
    ketch_sync_targets,
)

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


class KetchSyncTargets(StateStore):
    """Mixed into :class:`~airflow_provider_braze.state.ketch_events.KetchEventStore`."""

    def applied(self, fingerprints: Iterable[str]) -> dict[str, AppliedTarget]:
        """What was last applied to these targets (absent: never synced)."""
        self.ensure_schema()
        keys = sorted(set(fingerprints))
        t = ketch_sync_targets.c
        found: dict[str, AppliedTarget] = {}
        with read_transaction(self._engine) as conn:
            for i in range(0, len(keys), _CHUNK):
                rows = conn.execute(
                    select(t.fingerprint, t.state, t.submitted_at, t.event_id).where(
                        t.fingerprint.in_(keys[i : i + _CHUNK])
                    )
                )
                found.update({r.fingerprint: AppliedTarget(*r) for r in rows})
        return found

    def commit_sync(
        self,
        applied: Sequence[AppliedTarget],
        synced_event_ids: Iterable[int],
        skipped_event_ids: Mapping[str, Iterable[int]],
        run_id: str,
    ) -> None:
        """Record targets Braze accepted and settle events, in one transaction.

        :param applied: targets Braze accepted; an older decision never overwrites a newer one.
        :param synced_event_ids: events all of whose changes are now applied or superseded.
        :param skipped_event_ids: events with nothing to send or only refused changes, by reason.
        :param run_id: the sync run, kept for audit.
        """
        self.ensure_schema()
        now = self._clock()
        existing = self.applied(a.fingerprint for a in applied)
        t = ketch_sync_targets.c
        e = ketch_events.c
        with write_transaction(self._engine) as conn:
            for target in applied:
                known = existing.get(target.fingerprint)
                values = {
                    "state": target.state,
                    "submitted_at": target.submitted_at,
                    "event_id": target.event_id,
                    "synced_at": now,
                    "sync_run_id": run_id,
                }
                if known is None:
                    conn.execute(ketch_sync_targets.insert().values(fingerprint=target.fingerprint, **values))
                elif target.order > known.order:
                    conn.execute(update(ketch_sync_targets).where(t.fingerprint == target.fingerprint).values(**values))
            settle: list[tuple[str, str | None, list[int]]] = [(SYNC_SYNCED, None, sorted(set(synced_event_ids)))]
            settle += [(SYNC_SKIPPED, reason, sorted(set(ids))) for reason, ids in skipped_event_ids.items()]
            for status, note, ids in settle:
                for i in range(0, len(ids), _CHUNK):
                    conn.execute(
                        update(ketch_events)
                        .where(e.sync_status == SYNC_PENDING, e.id.in_(ids[i : i + _CHUNK]))
                        .values(sync_status=status, synced_at=now, sync_run_id=run_id, sync_note=note)
                    )
