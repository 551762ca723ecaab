"""One attribute export run in warehouse mode: plan in SQL, send what left the warehouse, merge.

The operator opens it in place of the SQL source: :meth:`WarehouseSync.source` streams the plan's rows
to send, trimmed to the identifiers, the row's flags and the values that changed (``only_changed``);
:meth:`WarehouseSync.plan_rows` builds them; :attr:`WarehouseSync.journal` records Braze's answers;
:meth:`WarehouseSync.close` merges what was accepted. Rows of a user that the query returns more than
once are refused as invalid: which of them Braze should keep is not the warehouse's to guess.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.incremental.planner import Build, Stop
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.records.attributes import NOT_ATTRIBUTES
from airflow_provider_braze.records.identifiers import TRACK_IDENTITY_COLUMNS
from airflow_provider_braze.sources.base import SourceRow
from airflow_provider_braze.state.sync_leases import SyncLease
from airflow_provider_braze.state.sync_ledger import SyncRun
from airflow_provider_braze.warehouse.hashing import COLUMN_HASH_DIGITS
from airflow_provider_braze.warehouse.journal import WarehouseJournal
from airflow_provider_braze.warehouse.plan_sql import CHANGE, PLAN_COLUMNS, PlanSpec
from airflow_provider_braze.warehouse.store import WarehouseLedger

log = logging.getLogger(__name__)


class WarehouseSync:
    """An attribute export's run whose state and diff live in the source's warehouse.

    :param store: the warehouse's ledger.
    :param run: this run (``None``: a dry run of a sync that never ran).
    :param query: the DAG's query.
    :param parameters: the query's parameters, bound by the driver.
    :param report: the run's counts.
    :param builder_settings: the record builder's settings (a layout is per settings).
    :param send: ``changed`` (``only_changed``), ``all`` or ``resync`` (``full_resync``).
    :param partition: ``(index, count)`` when partitioned.
    :param lease: the sync's lease this run holds.
    :param keep: which of the query's columns the export reads (its ``columns`` and ``exclude_columns``:
        :meth:`~airflow_provider_braze.sources.columns.ColumnFilter.kept`).
    """

    attributes = True

    def __init__(
        self,
        store: WarehouseLedger,
        run: SyncRun,
        *,
        query: str,
        parameters: Any,
        report: ExportLedger,
        builder_settings: str,
        send: str = "changed",
        partition: tuple[int, int] | None = None,
        lease: SyncLease | None = None,
        keep: Callable[[tuple[str, ...]], tuple[str, ...] | None] | None = None,
    ) -> None:
        self.store, self.run, self.lease, self.report = store, run, lease, report
        self.query, self.parameters = query, parameters
        self.journal = WarehouseJournal(store, run, lease)
        self.scope = "" if partition is None else f"{partition[0]}/{partition[1]}"
        columns = store.query_columns(query, parameters)
        taken = sorted(set(columns) & {*PLAN_COLUMNS, CHANGE})
        if taken:
            raise ValueError(f"the query returns column(s) {', '.join(taken)}, names warehouse mode keeps for its plan")
        kept = keep(columns) if keep is not None else None
        if kept is not None:
            columns = kept
        identity = tuple(c for c in columns if c in TRACK_IDENTITY_COLUMNS)
        values = tuple(c for c in columns if c not in identity)
        layout = store.layout(run.sync_id, values, builder_settings)
        self.layouts = store.layouts(run.sync_id)
        self.spec = PlanSpec(
            store.schema, run.run, run.sync_id, run.salt.hex(), columns, identity, layout, send, partition
        )
        # Identifiers and per-row flags go with every row sent, changed or not.
        self._always = frozenset(c for c in columns if c in NOT_ATTRIBUTES)
        self.counts: dict[int, int] = {}
        self.left = 0
        self.description = f"the warehouse plan braze_plan_{run.run}"
        self.total: int | None = None
        self._streaming: Generator[Any, None, None] | None = None

    def make_plan(self) -> None:
        """Merge what dead attempts left, then diff the query against the state in the warehouse."""
        merged = self.store.merge_left_plans(self.run.sync_id, self.scope)
        self.counts = self.store.make_plan(self.spec, self.query, self.parameters, scope=self.scope)
        self.left = self.store.users_left(self.spec)
        kept, sent = self.counts.get(0, 0), self.counts.get(1, 0)
        self.report.unchanged += kept
        self.report.rows_read += kept
        log.info(
            "Warehouse plan: %s rows of the query, %s to send, %s unchanged; %s users the sync holds are no longer "
            "in the query%s.",
            f"{kept + sent:,}",
            f"{sent:,}",
            f"{kept:,}",
            f"{self.left:,}",
            f" ({merged} unfinished plan(s) merged first)" if merged else "",
        )

    # --- the rows that leave the warehouse ---------------------------------------------------------

    def close_rows(self) -> None:
        """Stop streaming the plan's rows (the export ended early): its connection goes back."""
        if self._streaming is not None:
            self._streaming.close()
            self._streaming = None

    def rows(self) -> Iterator[tuple[SourceRow, bytes, int]]:
        """The plan's rows to send: ``((seq, data, None), user, rows of the user)``, ``data`` trimmed."""
        spec, layouts = self.spec, self.layouts
        current = dict(zip(spec.values, range(len(spec.values)), strict=True))
        trim = spec.send == "changed"
        self._streaming = self.store.plan_rows(spec)
        for row in self._streaming:
            data = {c: row[c] for c in spec.columns}
            if trim and row["braze_old_hashes"] is not None:
                changed = _changed(
                    spec.values,
                    current,
                    row["braze_hashes"],
                    row["braze_old_hashes"],
                    layouts.get(row["braze_old_layout"]),
                    layouts.get(spec.layout),
                )
                data = {c: data[c] for c in spec.columns if c in changed or c in self._always}
            yield (int(row["braze_seq"]), data, None), bytes.fromhex(row["braze_user"]), int(row["braze_rows"])

    def plan_rows(self, source: Any, build: Build) -> Iterator[Item]:
        """Build the rows to send (``source`` is this sync's own :meth:`rows`, passed by the operator)."""
        for (seq, data, _), user, count in self.rows():
            self.journal.building = (seq, user)
            if count > 1:
                problem = (
                    f"the query returns {count} rows for this user; warehouse mode sends one row per user "
                    "(return one, e.g. with GROUP BY or QUALIFY ROW_NUMBER() = 1)"
                )
                built = build(seq, data, problem)
                if built is Stop.STOP:
                    return
                continue
            if self.spec.send == "changed" and data.keys() <= self._always:
                # No value changed (a new layout over the same values): Braze holds them already.
                self.report.read()
                self.report.unchanged += 1
                self.journal.settled(seq)
                continue
            built = build(seq, data, None)
            if built is Stop.STOP:
                return
            if built is None:
                continue
            yield Item(built.key, built.value, built.ref, (seq, user))
        self.journal.flush_problems()

    def close(self, status: str) -> None:
        """Record the rows held back, merge what Braze accepted, and close the run."""
        try:
            self.journal.flush_problems()
        finally:
            try:
                if self.journal.failure is None:
                    merged = self.store.merge_plan(self.run.sync_id, self.run.run, self.spec.layout)
                    log.info("Merged %s accepted users into the warehouse state.", f"{merged:,}")
                    self.store.finish_run(self.run, status, {**self.report.summary(), "users_left": self.left})
            finally:
                if self.lease is not None:
                    self.lease.release()
                self.store.dispose()


def _changed(
    values: tuple[str, ...],
    current: Mapping[str, int],
    hashes: str,
    old: str,
    old_layout: tuple[tuple[str, ...], str] | None,
    new_layout: tuple[tuple[str, ...], str] | None,
) -> set[str]:
    """The value columns whose hash differs from the accepted one (by name when the layouts differ)."""
    w = COLUMN_HASH_DIGITS
    if old_layout is None or new_layout is None or old_layout[1] != new_layout[1]:
        return set(values)  # built under other settings: every value is sent again
    before = {name: old[i * w : (i + 1) * w] for i, name in enumerate(old_layout[0])}
    return {name for name in values if before.get(name) != hashes[current[name] * w : (current[name] + 1) * w]}
