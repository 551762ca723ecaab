"""The Ketch event store: what the webhook receiver writes and the sync, sensor and DSR steps read.

Writers and readers may be different processes on different hosts (the receiver in the API server,
sensors in the triggerer, the sync on a worker), so every method is one short transaction and the
rules below hold under concurrency, on SQLite and PostgreSQL alike.

Receiving: :meth:`KetchEventStore.record_event` stores a normalised
:class:`~airflow_provider_braze.ketch.events.KetchEvent` and commits before it returns. It returns
``False``, storing nothing, when the event's ``uid`` is already stored (a redelivery), also when two
deliveries race. A rights request also gets its row in ``ketch_rights_requests`` (see
:mod:`.ketch_rights`), in the same transaction.

Syncing subscription and control changes to Braze:

1. ``rng = store.unsynced_range()``: first and last pending event id and how many (cheap; for sensors).
2. ``events = store.pending_changes(upto_id=rng.last_id)``: the pending events in id order, each with
   its identities and flat changes. Collapse them per identity, topic and channel (latest
   ``submitted_at`` wins, ties broken by ``event_id``).
3. Send to Braze. Then ``store.mark_synced(accepted_ids, run_id)`` with exactly the events whose
   changes Braze accepted (an event superseded by an accepted one counts as accepted), and
   ``store.mark_skipped(ids, run_id, reason)`` for events with nothing to send. A failed run marks
   nothing, so its events stay pending for the next run.

Ids only grow and commit in id order (inserts are serialised: SQLite has one writer, PostgreSQL takes a
transaction advisory lock), so an id is a safe watermark: a reader that sees id N has seen every event
below it, and ``mark_synced(rng, run_id)`` with an :class:`EventRange` marks only events that were
pending when the range was read.

Not handled here: an event delayed in Ketch's retries may reach the store after a newer change for the
same identity and topic was already synced. Collapsing within a run cannot see that; a sync that must
resist it keeps the last synced ``submitted_at`` per identity, topic and channel.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Insert, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from airflow_provider_braze.ketch.events import (
    ConsentChange,
    ControlChange,
    KetchEvent,
    RightsRequestDetails,
    SubscriptionChange,
)
from airflow_provider_braze.ketch.models import Callback, Identity
from airflow_provider_braze.state.engine import inserted_id, read_transaction, write_transaction
from airflow_provider_braze.state.ketch_rights import KetchRightsRequests, new_rights_row
from airflow_provider_braze.state.ketch_sync_targets import KetchSyncTargets
from airflow_provider_braze.state.schema import (
    SYNC_PENDING,
    SYNC_SKIPPED,
    SYNC_SYNCED,
    ketch_events,
    ketch_rights_requests,
)

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same for every writer of this database.
_INSERT_LOCK_KEY = 0x4B45544348  # "KETCH"
_ID_CHUNK = 500


@dataclass(frozen=True)
class EventRange:
    """Pending (unsynced) events: lowest id, highest id, how many. Ids are ``None`` when there are none."""

    first_id: int | None
    last_id: int | None
    count: int

    def __bool__(self) -> bool:
        return self.count > 0


def _changes_json(event: KetchEvent) -> list[dict[str, Any]]:
    return (
        [{"topic": c.topic, "channel": c.channel, "status": c.status} for c in event.subscription_changes]
        + [{"control": c.control, "status": c.status} for c in event.control_changes]
        + [{"purpose": c.purpose, "status": c.status, "legal_basis": c.legal_basis} for c in event.consent_changes]
    )


def _event_from_row(row: Row, rights: Row | None = None) -> KetchEvent:
    changes = row.changes or []
    return KetchEvent(
        uid=row.uid,
        api_version=row.api_version,
        kind=row.kind,
        tenant=row.tenant,
        received_at=row.received_at,
        submitted_at=row.submitted_at,
        identities=tuple(Identity.model_validate(i) for i in row.identities),
        controller=row.controller,
        property_code=row.property,
        environment=row.environment,
        subscription_changes=tuple(
            SubscriptionChange(c["topic"], c["channel"], c["status"]) for c in changes if "channel" in c
        ),
        control_changes=tuple(ControlChange(c["control"], c["status"]) for c in changes if "control" in c),
        consent_changes=tuple(
            ConsentChange(c["purpose"], c["status"], c.get("legal_basis")) for c in changes if "purpose" in c
        ),
        rights_request=None
        if rights is None
        else RightsRequestDetails(
            request_id=rights.request_id,
            kind=rights.kind,
            callbacks=tuple(Callback.model_validate(c) for c in rights.callbacks),
            subject=rights.subject,
            regulation=rights.regulation,
            jurisdiction=rights.jurisdiction,
            due_at=rights.due_at,
        ),
        payload=row._mapping.get("payload"),
        event_id=row.id,
    )


class KetchEventStore(KetchRightsRequests, KetchSyncTargets):
    """Repository of Ketch events and rights requests; tables are created on first use.

    :param engine: an engine, or a SQLAlchemy URL (``sqlite:////path/state.db``,
        ``postgresql+psycopg://...``).
    :param clock: returns unix seconds; replaced in tests.
    """

    # -- receiving ---------------------------------------------------------------------------------

    def record_event(self, event: KetchEvent) -> bool:
        """Store an event durably (committed on return); ``False``, storing nothing, if its uid is known."""
        self.ensure_schema()
        row = {
            "uid": event.uid,
            "api_version": event.api_version,
            "kind": event.kind,
            "tenant": event.tenant,
            "controller": event.controller,
            "property": event.property_code,
            "environment": event.environment,
            "received_at": event.received_at,
            "submitted_at": event.submitted_at,
            "identities": [i.to_dict() for i in event.identities],
            "changes": _changes_json(event),
            "payload": event.payload or "",
            "sync_status": SYNC_PENDING if event.is_syncable else None,
        }
        with write_transaction(self._engine) as conn:
            if conn.dialect.name == "postgresql":
                # Serialise inserts so that ids commit in id order (see the module docstring).
                conn.execute(select(func.pg_advisory_xact_lock(_INSERT_LOCK_KEY)))
            event_id = self._insert_event(conn, row)
            if event_id is None:
                return False
            if event.rights_request is not None:
                conn.execute(insert(ketch_rights_requests).values(new_rights_row(event, event_id, self._clock())))
        log.debug("Stored Ketch %s %s as event %s", event.kind, event.uid, event_id)
        return True

    @staticmethod
    def _insert_event(conn: Connection, row: dict[str, Any]) -> int | None:
        """Insert unless the uid exists; the new id, or ``None`` for a known uid."""
        name = conn.dialect.name
        if name in ("sqlite", "postgresql"):
            stmt: Insert
            if name == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                stmt = sqlite_insert(ketch_events).values(row).on_conflict_do_nothing(index_elements=["uid"])
            else:
                from sqlalchemy.dialects.postgresql import insert as postgresql_insert

                stmt = postgresql_insert(ketch_events).values(row).on_conflict_do_nothing(index_elements=["uid"])
            return conn.execute(stmt.returning(ketch_events.c.id)).scalar_one_or_none()
        try:  # any other dialect: let the unique constraint decide, inside a savepoint
            with conn.begin_nested():
                return inserted_id(conn.execute(insert(ketch_events).values(row)))
        except IntegrityError:
            if conn.execute(select(ketch_events.c.id).where(ketch_events.c.uid == row["uid"])).first():
                return None
            raise

    # -- reading events ----------------------------------------------------------------------------

    def get_event(self, uid: str) -> KetchEvent | None:
        """The stored event with this ``metadata.uid`` (payload and rights details included), or ``None``."""
        self.ensure_schema()
        with read_transaction(self._engine) as conn:
            row = conn.execute(select(ketch_events).where(ketch_events.c.uid == uid)).first()
            if row is None:
                return None
            rights = conn.execute(
                select(ketch_rights_requests).where(ketch_rights_requests.c.event_id == row.id)
            ).first()
        return _event_from_row(row, rights)

    def latest_event_id(self) -> int | None:
        """The highest event id stored (of any kind), or ``None`` when the store is empty."""
        self.ensure_schema()
        with read_transaction(self._engine) as conn:
            return conn.execute(select(func.max(ketch_events.c.id))).scalar()

    def unsynced_range(self, after_id: int | None = None) -> EventRange:
        """First id, last id and count of subscription/control events not yet synced.

        :param after_id: only count events above this id (e.g. a sensor's watermark).
        """
        self.ensure_schema()
        t = ketch_events.c
        query = select(func.min(t.id), func.max(t.id), func.count()).where(t.sync_status == SYNC_PENDING)
        if after_id is not None:
            query = query.where(t.id > after_id)
        with read_transaction(self._engine) as conn:
            first, last, count = conn.execute(query).one()
        return EventRange(first, last, int(count or 0))

    def pending_changes(
        self,
        after_id: int | None = None,
        upto_id: int | None = None,
        limit: int | None = None,
        *,
        include_payload: bool = False,
    ) -> list[KetchEvent]:
        """Subscription and control events not yet synced, in id order, ``event_id`` set.

        :param after_id: only events with a greater id (exclusive); for paging.
        :param upto_id: only events up to this id (inclusive); pass a range's ``last_id``.
        :param limit: at most this many events.
        :param include_payload: also load the original JSON (off: it is the bulk of a row).
        """
        self.ensure_schema()
        t = ketch_events.c
        columns = [c for c in ketch_events.c if include_payload or c.name != "payload"]
        query = select(*columns).where(t.sync_status == SYNC_PENDING).order_by(t.id)
        if after_id is not None:
            query = query.where(t.id > after_id)
        if upto_id is not None:
            query = query.where(t.id <= upto_id)
        if limit is not None:
            query = query.limit(limit)
        with read_transaction(self._engine) as conn:
            rows = conn.execute(query).all()
        return [_event_from_row(row) for row in rows]

    # -- sync state --------------------------------------------------------------------------------

    def mark_synced(self, events: Iterable[int] | EventRange, run_id: str, *, note: str | None = None) -> int:
        """Mark pending events as synced to Braze; returns how many changed state.

        :param events: the ids Braze accepted, or an :class:`EventRange` read earlier (every event
            pending in it when it was read).
        :param run_id: the sync run (e.g. the Airflow run id), kept for audit.
        :param note: optional free text kept with them.
        """
        return self._set_sync_status(events, SYNC_SYNCED, run_id, note)

    def mark_skipped(self, events: Iterable[int] | EventRange, run_id: str, reason: str) -> int:
        """Mark pending events as needing no sync (e.g. no topic mapped); returns how many changed."""
        return self._set_sync_status(events, SYNC_SKIPPED, run_id, reason)

    def _set_sync_status(self, events: Iterable[int] | EventRange, status: str, run_id: str, note: str | None) -> int:
        self.ensure_schema()
        t = ketch_events.c
        stmt = (
            update(ketch_events)
            .where(t.sync_status == SYNC_PENDING)
            .values(sync_status=status, synced_at=self._clock(), sync_run_id=run_id, sync_note=note)
        )
        if isinstance(events, EventRange):
            if not events.count:
                return 0
            batches: Sequence[Any] = [t.id.between(events.first_id, events.last_id)]
        else:
            ids = sorted({int(i) for i in events})
            batches = [t.id.in_(ids[i : i + _ID_CHUNK]) for i in range(0, len(ids), _ID_CHUNK)]
        with write_transaction(self._engine) as conn:
            return sum(conn.execute(stmt.where(where)).rowcount for where in batches)
