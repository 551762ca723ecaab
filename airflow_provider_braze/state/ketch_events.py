"""The Ketch event store: what the webhook receiver writes and the sync, sensor and DSR steps read.

Writers and readers may be different processes on different hosts (the receiver in the API server,
sensors in the triggerer, the sync on a worker), so every method is one short transaction and the
rules below hold under concurrency, on SQLite and PostgreSQL alike.

Receiving: :meth:`KetchEventStore.record_event` stores a normalised
:class:`~airflow_provider_braze.ketch.events.KetchEvent` and commits before it returns. It returns
``False``, storing nothing, when the event's ``uid`` is already stored (a redelivery), also when two
deliveries race. A rights request also gets its row in ``ketch_rights_requests`` (see
:mod:`.ketch_rights`), in the same transaction.

Syncing subscription and control changes to Braze (what
:class:`~airflow_provider_braze.ketch.subscription_sync.SubscriptionSync` does, page by page):

1. ``rng = store.unsynced_range()``: first and last pending event id and how many (cheap; for sensors).
2. ``events = store.pending_changes(after_id=..., upto_id=rng.last_id, limit=...)``: pending events in
   id order, each with its identities and flat changes. Collapse them per identity, topic and channel
   (latest ``submitted_at`` wins, ties broken by ``event_id``).
3. ``store.applied(fingerprints)``: what an earlier run last applied to each Braze target. A decision
   not newer than that is superseded and is not sent: an event delayed in Ketch's retries cannot undo
   a newer choice already synced.
4. Send to Braze, then :meth:`KetchEventStore.settle` once: it records the targets Braze accepted (an
   older decision never overwrites a newer one) and takes out of pending exactly the events all of
   whose changes were accepted, superseded or refused (``synced``), and those with nothing to send
   (``skipped``, with the reason), in one transaction, so a crash cannot settle events without their
   targets. A page whose sending failed half way still settles what Braze took (it must not be
   resent); everything else stays pending for the next run.

Ids only grow and commit in id order (inserts are serialised: SQLite has one writer, PostgreSQL takes a
transaction advisory lock), so an id is a safe watermark: a reader that sees id N has seen every event
below it. Settling only ever moves an event that is still pending, so settling twice counts once.

Rights requests have their own repository, :attr:`KetchEventStore.rights`
(:class:`~.ketch_rights.KetchRightsRequests`), on the same engine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import URL, Connection, Engine, Insert, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from airflow_provider_braze.ketch.events import (
    ConsentChange,
    ControlChange,
    KetchEvent,
    SubscriptionChange,
)
from airflow_provider_braze.ketch.models import Identity
from airflow_provider_braze.state.base import StateStore
from airflow_provider_braze.state.engine import inserted_id, read_transaction, write_transaction
from airflow_provider_braze.state.ketch_rights import KetchRightsRequests, RightsRequest, new_rights_row
from airflow_provider_braze.state.ketch_sync_targets import AppliedTarget, read_applied, write_applied
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
        rights_request=None if rights is None else RightsRequest.from_row(rights).details,
        payload=row._mapping.get("payload"),
        event_id=row.id,
    )


class KetchEventStore(StateStore):
    """Repository of Ketch events and their sync state; tables are created on first use.

    :param engine: an engine, or a SQLAlchemy URL (``sqlite:////path/state.db``,
        ``postgresql+psycopg://...``).
    :param clock: returns unix seconds; replaced in tests.
    """

    def __init__(self, engine: Engine | str | URL, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(engine, clock=clock)
        #: The rights requests stored with their events (same engine, same clock).
        self.rights = KetchRightsRequests(self._engine, clock=clock)

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

    def applied(self, fingerprints: Iterable[str]) -> dict[str, AppliedTarget]:
        """What a sync last applied to these Braze targets (absent: never synced).

        :param fingerprints: the targets' keys.
        """
        self.ensure_schema()
        with read_transaction(self._engine) as conn:
            return read_applied(conn, sorted(set(fingerprints)))

    def settle(
        self,
        run_id: str,
        *,
        applied: Sequence[AppliedTarget] = (),
        synced: Iterable[int] = (),
        skipped: Mapping[str, Iterable[int]] | None = None,
    ) -> int:
        """Record the targets Braze accepted and take settled events out of pending, in one transaction.

        Only events still pending change, so settling the same events twice counts them once.

        :param run_id: the sync run (e.g. the Airflow run id), kept for audit.
        :param applied: targets Braze accepted; an older decision never overwrites a newer one.
        :param synced: events all of whose changes Braze accepted, refused, or an earlier decision superseded.
        :param skipped: events with nothing to send, by reason (kept as the events' note).
        :return: how many events left pending.
        """
        self.ensure_schema()
        now = self._clock()
        e = ketch_events.c
        batches: list[tuple[str, str | None, list[int]]] = [(SYNC_SYNCED, None, sorted({int(i) for i in synced}))]
        batches += [(SYNC_SKIPPED, reason, sorted({int(i) for i in ids})) for reason, ids in (skipped or {}).items()]
        settled = 0
        with write_transaction(self._engine) as conn:
            if applied:
                known = read_applied(conn, sorted({a.fingerprint for a in applied}))
                write_applied(conn, applied, known, now, run_id)
            for status, note, ids in batches:
                for i in range(0, len(ids), _ID_CHUNK):
                    settled += conn.execute(
                        update(ketch_events)
                        .where(e.sync_status == SYNC_PENDING, e.id.in_(ids[i : i + _ID_CHUNK]))
                        .values(sync_status=status, synced_at=now, sync_run_id=run_id, sync_note=note)
                    ).rowcount
        return settled
