"""The sync log: each exported row's outcome, written to a table in the user's own warehouse.

Hosted reverse-ETL tools keep a searchable log of every synced record; Census writes it back to the
warehouse with the columns ``sync_run_id``, ``record_identifier``, ``record_payload``,
``batch_started_at``, ``batch_completed_at``, ``operation``, ``status`` and ``status_message``
(https://docs.getcensus.com/basics/sync-monitoring/sync-logs). This table has those columns, plus
``sync_key``, ``row_number`` and ``column_name`` so that a refused row can be found in the source.

:class:`SyncLogWriter` is fed by the export's outcome ledger (:mod:`airflow_provider_braze.ledger`):
whole batches as Braze answers them, and rows found invalid before sending. It buffers rows and
inserts them in batches through SQLAlchemy (any dialect an Airflow SQL connection offers), creating
the table when it is missing. Nothing here knows Airflow.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, Text, insert

from airflow_provider_braze.braze.items import InvalidRecord
from airflow_provider_braze.braze.sender import BatchResult

log = logging.getLogger(__name__)

#: Which outcomes are written: every row's, or only the rows that did not end accepted.
SYNC_LOG_OUTCOMES = ("all", "refused")
#: Rows inserted per statement.
INSERT_BATCH = 1_000
#: The identifiers a Braze object is named by, in the order one is picked for ``record_identifier``.
_IDENTIFIER_KEYS = ("external_id", "braze_id", "user_alias", "email", "phone")


def sync_log_table(name: str, schema: str | None = None) -> Table:
    """The sync-log table's definition (``schema.name``); types are generic, so any dialect can create it."""
    return Table(
        name,
        MetaData(schema=schema),
        Column("sync_run_id", String(250), nullable=False),
        Column("sync_key", String(250), nullable=False),
        Column("row_number", Integer()),
        Column("record_identifier", String(512)),
        Column("record_payload", Text()),
        Column("batch_started_at", DateTime(timezone=True)),
        Column("batch_completed_at", DateTime(timezone=True), nullable=False),
        Column("operation", String(64), nullable=False),
        Column("status", String(16), nullable=False),
        Column("column_name", String(255)),
        Column("status_message", Text()),
    )


def record_identifier(value: Any) -> str | None:
    """The identifier a Braze object names its user or alias by (the first of :data:`_IDENTIFIER_KEYS`)."""
    if isinstance(value, str):  # id lists (``external_ids`` of a delete) hold the identifier itself
        return value
    if not isinstance(value, dict):
        return None
    for key in _IDENTIFIER_KEYS:
        found = value.get(key)
        if found is None:
            continue
        if isinstance(found, dict):  # a user alias
            return f"{found.get('alias_label')}:{found.get('alias_name')}"
        return str(found)
    return None


def _payload(value: Any) -> str | None:
    if value is None:
        return None
    # A lone surrogate (an invalid row's reason, often) is kept escaped so the text stays valid UTF-8.
    text = json.dumps(value, default=str, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, default=str)
    return text


def _utc(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc)


class SyncLogWriter:
    """Buffers row outcomes and inserts them into the sync-log table.

    :param engine: the warehouse's SQLAlchemy engine.
    :param table: the table's name; ``schema.table`` names a schema too.
    :param sync_key: the sync these rows belong to.
    :param sync_run_id: the run (Airflow's ``run_id``, with the map index when mapped).
    :param outcomes: ``all`` (every row) or ``refused`` (only rows that did not end accepted).
    :param clock: returns unix seconds; replaced in tests.
    """

    def __init__(
        self,
        engine: Engine,
        table: str,
        *,
        sync_key: str,
        sync_run_id: str,
        outcomes: str = "refused",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if outcomes not in SYNC_LOG_OUTCOMES:
            raise ValueError(f"sync_log_outcomes must be one of {', '.join(SYNC_LOG_OUTCOMES)}, not {outcomes!r}")
        schema, _, name = table.rpartition(".")
        self.table = sync_log_table(name, schema or None)
        self.engine = engine
        self.sync_key = sync_key
        self.sync_run_id = sync_run_id
        self.only_refused = outcomes == "refused"
        self._clock = clock
        self._rows: list[dict[str, Any]] = []
        self.written = 0
        self.table.create(engine, checkfirst=True)

    def batch(self, result: BatchResult) -> None:
        """Log a batch's outcomes as Braze answered them; the operation is the body array (``attributes``...)."""
        completed = _utc(self._clock())
        started = _utc(result.started_at)
        for outcome in result.outcomes:
            if self.only_refused and outcome.status == "accepted":
                continue
            item = outcome.item
            self._rows.append(
                self._row(
                    item.ref,
                    record_identifier(item.value),
                    item.value,
                    item.key,
                    outcome.status,
                    None,
                    outcome.reason,
                    started,
                    completed,
                )
            )
        self._maybe_flush()

    def invalid(self, invalid: InvalidRecord, operation: str) -> None:
        """Log a row found invalid before sending (its source row as the payload)."""
        self._rows.append(
            self._row(
                invalid.ref,
                record_identifier(invalid.row),
                invalid.row,
                operation,
                "invalid",
                invalid.column,
                invalid.reason,
                None,
                _utc(self._clock()),
            )
        )
        self._maybe_flush()

    def _row(
        self,
        ref: Any,
        identifier: str | None,
        payload: Any,
        operation: str,
        status: str,
        column: str | None,
        reason: str | None,
        started: datetime | None,
        completed: datetime | None,
    ) -> dict[str, Any]:
        return {
            "sync_run_id": self.sync_run_id,
            "sync_key": self.sync_key,
            "row_number": ref if isinstance(ref, int) else None,
            "record_identifier": identifier[:512] if identifier else None,
            "record_payload": _payload(payload),
            "batch_started_at": started,
            "batch_completed_at": completed,
            "operation": operation,
            "status": status,
            "column_name": column,
            "status_message": reason,
        }

    def _maybe_flush(self) -> None:
        if len(self._rows) >= INSERT_BATCH:
            self.flush()

    def flush(self) -> None:
        """Insert the buffered rows (one statement, one transaction)."""
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        with self.engine.begin() as conn:
            conn.execute(insert(self.table), rows)
        self.written += len(rows)
