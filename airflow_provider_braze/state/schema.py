"""Tables of the state store (SQLAlchemy Core, portable between SQLite and PostgreSQL).

``ketch_events``: one row per accepted Ketch request, in arrival order.

- ``id`` is the event sequence: it only grows, possibly with gaps (``AUTOINCREMENT`` on SQLite, so
  never reused), and because :meth:`~.ketch_events.KetchEventStore.record_event` serialises inserts,
  ids also *commit* in order.
  A reader that sees id N has therefore seen every event below N: ``id`` is safe as a watermark.
- ``uid`` is Ketch's ``metadata.uid``, unique: a second delivery of a request inserts nothing.
- ``changes`` holds the flat decisions, shaped by ``kind``: ``{"topic","channel","status"}`` for
  topic requests, ``{"control","status"}`` for controls, ``{"purpose","status","legal_basis"}`` for
  consent, ``[]`` for rights requests. ``identities`` is the wire form of the identities.
- ``payload`` is the JSON text exactly as received.
- ``sync_status`` is ``pending`` for subscription topic and control events until a sync marks them
  ``synced`` (Braze accepted them) or ``skipped`` (nothing to send, e.g. an unmapped topic), and
  ``NULL`` for kinds no sync consumes. A partial index keeps the pending ones cheap to find.

``ketch_rights_requests``: one row per data subject rights request, its progress and whether Ketch
has been told (``notified_status``). Callback headers and the subject are secrets/personal data.

Times are unix seconds as double precision.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: Values of ``ketch_events.sync_status``.
SYNC_PENDING, SYNC_SYNCED, SYNC_SKIPPED = "pending", "synced", "skipped"

# BIGINT on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" is the rowid, so the variant is needed.
_EventId = BigInteger().with_variant(Integer(), "sqlite")

ketch_events = Table(
    "ketch_events",
    metadata,
    Column("id", _EventId, primary_key=True, autoincrement=True),
    Column("uid", String(128), nullable=False, unique=True),
    Column("api_version", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("tenant", String(255)),
    Column("controller", String(255)),
    Column("property", String(255)),
    Column("environment", String(255)),
    Column("received_at", Double(), nullable=False),
    Column("submitted_at", Double(), nullable=False),
    Column("identities", JSON(), nullable=False),
    Column("changes", JSON(), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("sync_status", String(16)),
    Column("synced_at", Double()),
    Column("sync_run_id", String(255)),
    Column("sync_note", Text()),
    CheckConstraint("sync_status IN ('pending', 'synced', 'skipped')", name="sync_status"),
    sqlite_autoincrement=True,
)

Index(
    "ix_ketch_events_pending",
    ketch_events.c.id,
    sqlite_where=ketch_events.c.sync_status == SYNC_PENDING,
    postgresql_where=ketch_events.c.sync_status == SYNC_PENDING,
)

ketch_rights_requests = Table(
    "ketch_rights_requests",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("event_id", _EventId, ForeignKey("ketch_events.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("kind", String(64), nullable=False),
    Column("tenant", String(255)),
    Column("identities", JSON(), nullable=False),
    Column("callbacks", JSON(), nullable=False),
    Column("subject", JSON()),
    Column("regulation", String(64)),
    Column("jurisdiction", String(64)),
    Column("submitted_at", Double(), nullable=False),
    Column("due_at", Double()),
    Column("status", String(16), nullable=False),
    Column("reason", String(64)),
    Column("result_message", Text()),
    Column("expected_completion_at", Double()),
    Column("results", JSON()),
    Column("notified_status", String(16)),
    Column("notified_at", Double()),
    Column("created_at", Double(), nullable=False),
    Column("updated_at", Double(), nullable=False),
    Column("completed_at", Double()),
    CheckConstraint("status IN ('unknown', 'pending', 'in_progress', 'completed')", name="status"),
)

Index("ix_ketch_rights_requests_status", ketch_rights_requests.c.status)

# ``ketch_sync_targets``: for each Braze target a sync has set (a user's subscription-group state or
# global email state, keyed by a SHA-256 fingerprint, never the email or phone itself), the Ketch
# decision last applied and when the user made it. A change that arrives late, after a newer one for
# the same target was synced, is recognised here and not sent.
ketch_sync_targets = Table(
    "ketch_sync_targets",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("submitted_at", Double(), nullable=False),
    Column("event_id", _EventId, nullable=False),
    Column("synced_at", Double(), nullable=False),
    Column("sync_run_id", String(255)),
)

# --- the sync ledger (see :mod:`.sync_ledger`) ----------------------------------------------------
#
# What exports have done, per sync (a stable key such as ``dag_id.task_id``): Braze's acceptances,
# refusals and unknown outcomes, kept so that a later run or a retried attempt sends only what is not
# done yet. Users and events are known by keyed BLAKE2b digests (``LargeBinary(16)``), never by their
# identifiers. ``run`` columns hold a ``braze_sync_runs.id``.


class Digest(LargeBinary):
    """A 16-byte digest. Both drivers take and return ``bytes`` as they are, so SQLAlchemy's per-value
    conversion (measurable when a lookup binds a thousand of them) is skipped."""

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


#: Values of ``braze_sync_keys.status``: written before sending (``sending``), then the outcome.
KEY_SENDING, KEY_ACCEPTED, KEY_UNKNOWN = "sending", "accepted", "unknown"

# One row per store: the salt that keys every digest, so a stolen ledger cannot be matched against a
# list of known emails or phones.
braze_sync_settings = Table(
    "braze_sync_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary(), nullable=False),
)

braze_syncs = Table(
    "braze_syncs",
    metadata,
    Column("id", _EventId, primary_key=True, autoincrement=True),
    Column("sync_key", String(250), nullable=False, unique=True),
    Column("endpoint", String(64), nullable=False),
    Column("mode", String(64), nullable=False),
    Column("created_at", Double(), nullable=False),
    # The task that owns the sync: another task using its key is refused unless it shares it on
    # purpose. NULL for a sync made before owners were kept, or released for a rename: the next task
    # to run it becomes its owner.
    Column("owner_dag_id", String(250)),
    Column("owner_task_id", String(250)),
    sqlite_autoincrement=True,
)


def _sync_id(**options: Any) -> Column[Any]:
    """The ``sync_id`` column of a table of the sync ledger: its rows go when their sync is deleted.

    :param options: the column's other options (``nullable``, ``primary_key``).
    """
    return Column("sync_id", _EventId, ForeignKey("braze_syncs.id", ondelete="CASCADE"), **options)


# One row per Airflow task run (dag run and map index); its attempts share it, which is what lets a
# retried attempt skip what an earlier attempt of the same run had done.
braze_sync_runs = Table(
    "braze_sync_runs",
    metadata,
    Column("id", _EventId, primary_key=True, autoincrement=True),
    _sync_id(nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("map_index", Integer(), nullable=False),
    Column("try_number", Integer(), nullable=False),
    Column("partition", String(32)),
    Column("status", String(16), nullable=False),
    Column("started_at", Double(), nullable=False),
    Column("finished_at", Double()),
    Column("summary", JSON()),
    # The Airflow run's logical date (unix seconds; its run_after when it has none): a run of an older
    # date never overwrites a user a newer run wrote (see :mod:`.sync_leases`).
    Column("as_of", Double()),
    UniqueConstraint("sync_id", "run_id", "map_index"),
    CheckConstraint("status IN ('running', 'success', 'failed')", name="status"),
    sqlite_autoincrement=True,
)

# Per user: the digest of the source row last accepted, what that row cost in data points, and the
# run that wrote it. Every row of an incremental run is looked up here by its source row's digest
# (``row_hash``, :mod:`airflow_provider_braze.incremental.source_digest`): a covering index answers
# "which user's current row is this, what did it cost" without building the row, so an unchanged row
# costs one index probe. ``row_hash`` is empty for a row sent with operations (never settled by it).
# Rows are keyed by a 64-bit integer, the first 8 bytes of ``user_hash`` (which the sync's id is hashed
# into): the cheapest key SQLite has. ``user_hash`` is kept whole to tell the rare users whose keys
# collide apart: a mismatch reads as "never written", so such a user is sent, never skipped.
braze_sync_users = Table(
    "braze_sync_users",
    metadata,
    Column("user_key", _EventId, primary_key=True, autoincrement=False),
    _sync_id(nullable=False),
    Column("user_hash", Digest(16), nullable=False),
    Column("row_hash", Digest(16), nullable=False),
    Column("points", Integer(), nullable=False),
    Column("run", _EventId, nullable=False),
    Column("updated_at", Double(), nullable=False),
    Index("ix_braze_sync_users_row_hash", "row_hash", "sync_id", "user_key", "points"),
)

# Per user: a fingerprint of each attribute value Braze accepted (msgpack map name -> 64-bit int),
# read only for users whose whole row changed.
braze_sync_user_values = Table(
    "braze_sync_user_values",
    metadata,
    Column("user_key", _EventId, primary_key=True, autoincrement=False),
    _sync_id(nullable=False),
    Column("fingerprints", LargeBinary(), nullable=False),
)

# Per event, purchase or increment: its key, written ``sending`` before the request leaves.
braze_sync_keys = Table(
    "braze_sync_keys",
    metadata,
    _sync_id(primary_key=True),
    Column("item_key", Digest(16), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("run", _EventId, nullable=False),
    Column("row_ref", String(64)),
    Column("updated_at", Double(), nullable=False),
    CheckConstraint("status IN ('sending', 'accepted', 'unknown')", name="status"),
    sqlite_with_rowid=False,
)

# Rows that did not end accepted: invalid, refused by Braze, failed, or of unknown outcome; open
# (``resolved_run`` NULL) until a later run has the same user or event accepted.
braze_sync_problems = Table(
    "braze_sync_problems",
    metadata,
    Column("id", _EventId, primary_key=True, autoincrement=True),
    _sync_id(nullable=False),
    Column("run", _EventId, nullable=False),
    Column("item_key", Digest(16)),
    Column("row_ref", String(64)),
    Column("status", String(16), nullable=False),
    Column("column_name", String(255)),
    Column("reason", Text()),
    Column("created_at", Double(), nullable=False),
    Column("resolved_run", _EventId),
    CheckConstraint("status IN ('invalid', 'rejected', 'failed', 'unknown')", name="status"),
    sqlite_autoincrement=True,
)

# Who is writing a sync now: one row per scope (``""`` for the whole sync, else its partition
# ``"i/n"``), held by one run until it finishes, renewed while it runs, free once ``expires_at`` passes
# (a worker that died). Runs whose scopes overlap take turns (see :mod:`.sync_leases`).
braze_sync_leases = Table(
    "braze_sync_leases",
    metadata,
    _sync_id(primary_key=True),
    Column("scope", String(32), primary_key=True),
    Column("run", _EventId, nullable=False),
    Column("holder", Text(), nullable=False),
    Column("acquired_at", Double(), nullable=False),
    Column("expires_at", Double(), nullable=False),
)

Index("ix_braze_sync_problems_item", braze_sync_problems.c.sync_id, braze_sync_problems.c.item_key)
Index("ix_braze_sync_problems_run", braze_sync_problems.c.run)
