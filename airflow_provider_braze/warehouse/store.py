"""The sync ledger kept in the source's warehouse: runs, leases and problems as in the local store,
and the users' state and each run's plan in tables of :mod:`.tables`.

A run: :meth:`WarehouseLedger.open_run` and the lease as in the local store; then
:meth:`~WarehouseLedger.merge_left_plans` (plans of dead attempts in this scope are merged first, so
their accepted rows are not sent again), :meth:`~WarehouseLedger.make_plan` (the diff, in SQL),
:meth:`~WarehouseLedger.plan_rows` (only rows to send leave the warehouse), per batch
:meth:`~WarehouseLedger.record_marks` (the accepted rows' numbers, as ranges), and at the end
:meth:`~WarehouseLedger.merge_plan` (set-wise) and :meth:`~SyncLedgerStore.finish_run`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Generator, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Engine,
    MetaData,
    RowMapping,
    Table,
    Text,
    bindparam,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.schema import CreateSchema, ForeignKeyConstraint

from airflow_provider_braze.state.engine import read_transaction, write_transaction
from airflow_provider_braze.state.ids import ASSIGNED_ID_DIALECTS
from airflow_provider_braze.state.schema import (
    braze_sync_leases,
    braze_sync_problems,
    braze_sync_runs,
    braze_sync_settings,
    braze_syncs,
)
from airflow_provider_braze.state.sync_ledger import Problem, SyncLedgerStore, SyncRun
from airflow_provider_braze.warehouse import plan_sql
from airflow_provider_braze.warehouse.hashing import give_sqlite_md5
from airflow_provider_braze.warehouse.plan_sql import PlanSpec
from airflow_provider_braze.warehouse.tables import MARK_ACCEPTED, table, tables_in

log = logging.getLogger(__name__)

#: The sync ledger's tables warehouse mode keeps beside its own (users and keys are its own).
LEDGER_TABLES = (braze_sync_settings, braze_syncs, braze_sync_runs, braze_sync_problems, braze_sync_leases)
#: Plan rows fetched at once.
FETCH_ROWS = 5_000


class WarehouseLedger(SyncLedgerStore):
    """The sync ledger in schema ``schema`` of the warehouse ``engine`` reaches.

    :param engine: an engine on the source's warehouse (SQLite files get an ``md5`` function here).
    :param schema: the state schema, created when missing (``None``: the connection's default schema;
        SQLite has none).
    """

    # Plan rows stream on one connection while batches are recorded on others.
    one_connection = False

    def __init__(self, engine: Engine, schema: str | None, **kwargs: Any) -> None:
        if engine.dialect.name == "sqlite":
            give_sqlite_md5(engine)
            engine.dispose()  # connections pooled before lack the function
            schema = None  # SQLite has no schemas: the state tables sit beside the data
        self.schema = schema
        self.raw_engine = engine
        super().__init__(engine.execution_options(schema_translate_map={None: schema}), **kwargs)

    # -- tables --------------------------------------------------------------------------------------

    def _create_tables(self) -> None:
        with write_transaction(self.raw_engine) as conn:
            if self.schema is not None and not inspect(conn).has_schema(self.schema):
                conn.execute(CreateSchema(self.schema, if_not_exists=True))
        with write_transaction(self._engine) as conn:
            _ledger_tables(conn.dialect.name, self.schema).create_all(conn, checkfirst=True)
            tables_in(self.schema).create_all(conn, checkfirst=True)

    # -- layouts ---------------------------------------------------------------------------------------

    def layout(self, sync_id: int, values: Sequence[str], settings: str) -> int:
        """The layout number of the value columns ``values`` under builder ``settings``, made on first use."""
        t = table(self.schema, "braze_wh_layouts")
        text = json.dumps(list(values))
        settings = hashlib.sha256(settings.encode()).hexdigest()  # what the builder does, not how it says it
        with write_transaction(self._engine) as conn:
            rows = conn.execute(select(t.c.layout, t.c.columns, t.c.settings).where(t.c.sync_id == sync_id)).all()
            for number, columns, known in rows:
                if columns == text and known == settings:
                    return int(number)
            number = max((int(r[0]) for r in rows), default=0) + 1
            conn.execute(insert(t).values(sync_id=sync_id, layout=number, columns=text, settings=settings))
        return number

    def layouts(self, sync_id: int) -> dict[int, tuple[tuple[str, ...], str]]:
        """Every layout of the sync: ``number -> (value columns, settings)``."""
        t = table(self.schema, "braze_wh_layouts")
        with read_transaction(self._engine) as conn:
            rows = conn.execute(select(t.c.layout, t.c.columns, t.c.settings).where(t.c.sync_id == sync_id)).all()
        return {int(n): (tuple(json.loads(c)), s) for n, c, s in rows}

    # -- the plan ------------------------------------------------------------------------------------

    def query_columns(self, query: str, parameters: Any = None) -> tuple[str, ...]:
        """The columns the DAG's query returns (it is run for no row)."""
        with read_transaction(self.raw_engine) as conn:
            cursor = _execute(conn, plan_sql.probe_columns(query, conn.dialect), parameters)
            try:
                return tuple(str(d[0]) for d in cursor.description)
            finally:
                cursor.close()

    def merge_left_plans(self, sync_id: int, scope: str) -> int:
        """Merge the plans runs of this scope left unmerged (killed attempts); returns how many.

        Called once the run holds the scope's lease: no live run writes them meanwhile.
        """
        t = table(self.schema, "braze_wh_plans")
        with read_transaction(self._engine) as conn:
            left = conn.execute(select(t.c.run, t.c.layout).where(t.c.sync_id == sync_id, t.c.scope == scope)).all()
        for run, layout in left:
            log.info("Merging the plan of run %s, left by an attempt that did not finish.", run)
            self.merge_plan(sync_id, int(run), int(layout))
        return len(left)

    def make_plan(self, spec: PlanSpec, query: str, parameters: Any = None, *, scope: str = "") -> dict[int, int]:
        """Compute the run's plan in the warehouse; returns its rows by ``braze_change`` (0 kept, 1 sent)."""
        plans = table(self.schema, "braze_wh_plans")
        with write_transaction(self.raw_engine) as conn:
            _execute(conn, plan_sql.drop_plan(spec.run, self.schema, conn.dialect)).close()
        # Registered before it is made: a kill in between leaves a plan to merge (or find missing).
        with write_transaction(self._engine) as conn:
            conn.execute(plans.delete().where(plans.c.run == spec.run))
            conn.execute(
                insert(plans).values(
                    run=spec.run, sync_id=spec.sync_id, scope=scope, layout=spec.layout, created_at=self._clock()
                )
            )
        with write_transaction(self.raw_engine) as conn:
            _execute(conn, plan_sql.create_plan(spec, query, conn.dialect), parameters).close()
            return {int(change): int(rows) for change, rows in conn.execute(plan_sql.plan_counts(spec)).all()}

    def users_left(self, spec: PlanSpec) -> int:
        """Users the sync holds (in the run's partition) that the query no longer returns."""
        with read_transaction(self.raw_engine) as conn:
            return int(conn.execute(plan_sql.users_left(spec)).scalar_one())

    def plan_rows(self, spec: PlanSpec) -> Generator[RowMapping, None, None]:
        """The plan's rows to send, streamed in plan order (on a connection of their own)."""
        with read_transaction(self.raw_engine) as conn:
            result = conn.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(plan_sql.plan_rows(spec))
            yield from result.mappings()

    def record_marks(
        self,
        run: SyncRun,
        ranges: Sequence[tuple[int, int]],
        *,
        problems: Sequence[Problem] = (),
        resolved: Sequence[bytes] = (),
        resolve: bool = False,
    ) -> None:
        """Write a batch's accepted rows (ranges of plan row numbers), its problems, and close the open
        problems of the users accepted now (``resolve``: the sync has some), in one transaction."""
        marks = table(self.schema, "braze_wh_marks")
        with write_transaction(self._engine, durable=False) as conn:
            if ranges:
                conn.execute(
                    insert(marks), [{"run": run.run, "lo": lo, "hi": hi, "status": MARK_ACCEPTED} for lo, hi in ranges]
                )
            if problems:
                self._add_problems(conn, run, problems, self._clock())
            if resolve and resolved:
                self._resolve_problems(conn, run, resolved)

    def _resolve_problems(self, conn: Any, run: SyncRun, keys: Sequence[bytes]) -> None:
        p = braze_sync_problems.c
        conn.execute(
            update(braze_sync_problems)
            .where(
                p.sync_id == run.sync_id, p.resolved_run.is_(None), p.item_key.in_(bindparam("keys", expanding=True))
            )
            .values(resolved_run=run.run),
            {"keys": list(keys)},
        )

    def merge_plan(self, sync_id: int, run: int, layout: int) -> int:
        """Merge a plan's accepted rows into the users' state and drop the plan; returns the users merged."""
        spec = PlanSpec(self.schema, run, sync_id, "", (), (), layout)
        with read_transaction(self.raw_engine) as conn:
            exists = inspect(conn).has_table(spec.table_name, schema=self.schema)
        merged = 0
        with write_transaction(self.raw_engine) as conn:
            statements = plan_sql.merge_statements(self.schema, sync_id, run, layout)
            if exists:
                conn.execute(statements[0])
                merged = conn.execute(statements[1]).rowcount or 0
            for statement in statements[2:]:
                conn.execute(statement)
        with write_transaction(self.raw_engine) as conn:
            _execute(conn, plan_sql.drop_plan(run, self.schema, conn.dialect)).close()
        return merged


def _ledger_tables(dialect: str, schema: str | None) -> MetaData:
    """The sync ledger's tables to create in the warehouse, as each warehouse can hold them.

    Where the store gives ids (see :mod:`~airflow_provider_braze.state.ids`), no autoincrement the
    database cannot make. Outside SQLite and PostgreSQL, no foreign keys (DuckDB refuses ``ON DELETE
    CASCADE``, Snowflake and BigQuery do not enforce them: the store deletes a sync's rows itself) and
    JSON as text (Snowflake's dialect renders no JSON column; SQLAlchemy's JSON type still serialises), and
    no secondary index on Snowflake and BigQuery (standard tables have none).
    """
    copy = MetaData()
    for original in LEDGER_TABLES:
        made: Table = original.to_metadata(copy)
        if dialect in ("sqlite", "postgresql"):
            continue
        for constraint in [c for c in made.constraints if isinstance(c, ForeignKeyConstraint)]:
            made.constraints.discard(constraint)
        if dialect in ("snowflake", "bigquery"):
            made.indexes.clear()  # neither has secondary indexes on standard tables
        for column in made.columns:
            column.foreign_keys.clear()
            if isinstance(column.type, JSON):
                column.type = Text()
        if dialect in ASSIGNED_ID_DIALECTS:
            for column in made.primary_key.columns:
                column.autoincrement = False
    return copy


def _execute(conn: Any, statement: str, parameters: Any = None) -> Any:
    """Run a compiled statement on the driver's own cursor: the DAG's query inside it keeps its own
    placeholders, bound by the driver only when it has parameters (a ``%`` in it means no placeholder
    then, as when the SQL source runs it)."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if parameters is None:
            cursor.execute(statement)
        else:
            cursor.execute(statement, parameters)
    except BaseException:
        cursor.close()
        raise
    return cursor
