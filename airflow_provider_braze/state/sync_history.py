"""Read-only views of the sync ledger for people: every sync with its last run, a sync's runs, a run's rows at fault.

The sync history page (:mod:`airflow_provider_braze.ui`) and its API read through here. Nothing here
writes, creates tables or a salt: a store that has never held a sync reads as empty, and a SQLite
file that does not exist yet is not created by looking at it.

Rows at fault are found by identifier without the identifier being stored: the ledger files each under
a digest keyed with the store's salt (:mod:`airflow_provider_braze.incremental.keys`), and
:func:`identifier_digests` computes the digests a typed identifier would have been filed under.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import URL, Engine, func, inspect, select

from airflow_provider_braze.incremental.keys import column_key, user_hasher
from airflow_provider_braze.state.engine import create_state_engine, read_transaction
from airflow_provider_braze.state.schema import braze_sync_problems, braze_sync_runs, braze_sync_settings, braze_syncs

#: Identifier fields a typed identifier is tried as (the ledger files attribute rows under
#: ``"<sync id>:<field>:<value>"``; see :meth:`~airflow_provider_braze.incremental.planner`).
SEARCHED_FIELDS = ("external_id", "braze_id", "email", "phone")
#: The name of the store's salt in ``braze_sync_settings`` (as :class:`~.sync_ledger.SyncLedgerStore` writes it).
SALT_SETTING = "salt"
#: Problem statuses that are rows refused (invalid before sending, or rejected by Braze).
REFUSED = ("invalid", "rejected")


@dataclass(frozen=True)
class Run:
    """One Airflow task run of a sync (its attempts share it).

    :param id: the ledger's id of the run (``braze_sync_runs.id``), used in the run page's URL.
    :param run_id: Airflow's run id of the DAG run.
    :param map_index: the mapped task's index, ``-1`` when not mapped.
    :param try_number: how many attempts the ledger has seen.
    :param partition: ``"i/n"`` for a partitioned source, else ``None``.
    :param status: ``running``, ``success`` or ``failed``.
    :param started_at: unix seconds.
    :param finished_at: unix seconds, ``None`` while running.
    :param summary: the export's summary as the operator wrote it (``{}`` while running).
    """

    id: int
    run_id: str
    map_index: int
    try_number: int
    partition: str | None
    status: str
    started_at: float
    finished_at: float | None
    summary: dict[str, Any]


@dataclass(frozen=True)
class Sync:
    """A sync of the ledger and its newest run.

    :param id: the ledger's id of the sync.
    :param sync_key: its stable name (``dag_id.task_id`` by default).
    :param endpoint: the Braze endpoint it writes to (catalogue name).
    :param mode: what it sends (``attributes``, ``events``, ``purchases``).
    :param runs: how many task runs the ledger holds.
    :param last: the newest run, ``None`` when none is recorded.
    """

    id: int
    sync_key: str
    endpoint: str
    mode: str
    runs: int
    last: Run | None


@dataclass(frozen=True)
class Problem:
    """A row of a run that did not end accepted.

    :param id: the ledger's id of the record (its order; for paging).
    :param row: the source row's number (as the operator numbered it).
    :param status: ``invalid``, ``rejected``, ``failed`` or ``unknown``.
    :param column: the column at fault, when known.
    :param reason: why, as recorded (may quote the row's values: mask before showing).
    :param resolved_run: the run that had the row accepted later (``-1``: settled by hand), or ``None``.
    """

    id: int
    row: str | None
    status: str
    column: str | None
    reason: str | None
    resolved_run: int | None


def identifier_digests(salt: bytes, sync_id: int, identifier: str) -> list[bytes]:
    """The digests the ledger would file a row of this identifier under, in the sync ``sync_id``.

    An attribute row is filed under its user (one digest per identifier field it might be), an
    event or purchase exported with ``event_key_column`` under its key.

    :param salt: the store's salt.
    :param sync_id: the sync's id (hashed into user digests).
    :param identifier: what a person typed: ``u-17``, ``ana@example.com``, or ``email:ana@example.com``.
    """
    text = identifier.strip()
    if not text:
        return []
    hash_user = user_hasher(salt)
    field, colon, value = text.partition(":")
    fields = [field] if colon and field in SEARCHED_FIELDS else list(SEARCHED_FIELDS)
    value = value.strip() if colon and field in SEARCHED_FIELDS else text
    digests = [hash_user(f"{sync_id}:{name}:{value}") for name in fields]
    digests.append(column_key(value, salt))
    return digests


class SyncHistory:
    """Reads of the sync ledger for the history page; never writes.

    :param engine: an engine, or a SQLAlchemy URL of the state store.
    """

    def __init__(self, engine: Engine | str | URL) -> None:
        self._engine = engine if isinstance(engine, Engine) else create_state_engine(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    def dispose(self) -> None:
        """Close pooled connections."""
        self._engine.dispose()

    def _ledger_exists(self) -> bool:
        url = self._engine.url
        path = url.database if url.get_backend_name() == "sqlite" else None
        # Connecting would create the file: a store nobody has written to is simply empty.
        if path and path != ":memory:" and not path.startswith("file:") and not os.path.exists(path):
            return False
        return inspect(self._engine).has_table(braze_sync_runs.name)

    # -- syncs ---------------------------------------------------------------------------------------

    def syncs(self) -> list[Sync]:
        """Every sync the ledger holds, by key, each with its newest run."""
        if not self._ledger_exists():
            return []
        return list(self._syncs())

    def sync(self, sync_key: str) -> Sync | None:
        """The sync named ``sync_key``, or ``None``."""
        if not self._ledger_exists():
            return None
        return next(self._syncs(sync_key), None)

    def _syncs(self, sync_key: str | None = None) -> Iterator[Sync]:
        s, r = braze_syncs.c, braze_sync_runs.c
        newest = (
            select(r.id)
            .where(r.sync_id == s.id)
            .order_by(r.started_at.desc(), r.id.desc())
            .limit(1)
            .correlate(braze_syncs)
            .scalar_subquery()
        )
        count = select(func.count()).where(r.sync_id == s.id).correlate(braze_syncs).scalar_subquery()
        query = select(s.id, s.sync_key, s.endpoint, s.mode, count.label("runs"), newest.label("newest"))
        if sync_key is not None:
            query = query.where(s.sync_key == sync_key)
        with read_transaction(self._engine) as conn:
            rows = conn.execute(query.order_by(s.sync_key)).all()
            newest_runs = self._runs_by_id(conn, [row.newest for row in rows if row.newest is not None])
        for row in rows:
            yield Sync(int(row.id), row.sync_key, row.endpoint, row.mode, int(row.runs), newest_runs.get(row.newest))

    @staticmethod
    def _runs_by_id(conn: Any, ids: Sequence[int]) -> dict[int, Run]:
        if not ids:
            return {}
        rows = conn.execute(_run_columns().where(braze_sync_runs.c.id.in_(list(ids)))).all()
        return {int(row.id): _run(row) for row in rows}

    # -- runs ----------------------------------------------------------------------------------------

    def runs(self, sync_id: int, *, limit: int = 200) -> list[Run]:
        """A sync's runs, newest first.

        :param sync_id: the sync's id.
        :param limit: the most runs returned.
        """
        r = braze_sync_runs.c
        query = _run_columns().where(r.sync_id == sync_id).order_by(r.started_at.desc(), r.id.desc()).limit(limit)
        with read_transaction(self._engine) as conn:
            return [_run(row) for row in conn.execute(query)]

    def run(self, sync_id: int, run: int) -> Run | None:
        """The run with the ledger id ``run`` of the sync ``sync_id``, or ``None``."""
        r = braze_sync_runs.c
        with read_transaction(self._engine) as conn:
            row = conn.execute(_run_columns().where(r.sync_id == sync_id, r.id == run)).first()
        return None if row is None else _run(row)

    def task_run(self, sync_id: int, run_id: str, map_index: int = -1) -> Run | None:
        """The run an Airflow task instance made (its DAG run id and map index), or ``None``."""
        r = braze_sync_runs.c
        query = _run_columns().where(r.sync_id == sync_id, r.run_id == run_id, r.map_index == map_index)
        with read_transaction(self._engine) as conn:
            row = conn.execute(query).first()
        return None if row is None else _run(row)

    # -- rows at fault -------------------------------------------------------------------------------

    def problem_count(self, run: int) -> int:
        """How many rows of the run did not end accepted."""
        p = braze_sync_problems.c
        with read_transaction(self._engine) as conn:
            return int(conn.execute(select(func.count()).where(p.run == run)).scalar_one())

    def problems(
        self,
        run: int,
        *,
        identifier: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        after: int | None = None,
    ) -> list[Problem]:
        """The rows of run ``run`` that did not end accepted, in the order they were recorded.

        :param run: the ledger id of the run.
        :param identifier: only the rows of this user identifier or event key (matched by digest).
        :param limit: the most rows returned (``None``: all).
        :param offset: rows skipped first.
        :param after: only rows recorded after the one with this :attr:`Problem.id` (paging through
            many rows without an ``OFFSET`` scan).
        """
        p, r = braze_sync_problems.c, braze_sync_runs.c
        query = select(p.id, p.row_ref, p.status, p.column_name, p.reason, p.resolved_run).where(p.run == run)
        if after is not None:
            query = query.where(p.id > after)
        with read_transaction(self._engine) as conn:
            if identifier is not None:
                sync_id = conn.execute(select(r.sync_id).where(r.id == run)).scalar()
                t = braze_sync_settings.c
                salt = conn.execute(select(t.value).where(t.name == SALT_SETTING)).scalar()
                if sync_id is None or salt is None:
                    return []
                digests = identifier_digests(bytes(salt), int(sync_id), identifier)
                if not digests:
                    return []
                query = query.where(p.sync_id == sync_id, p.item_key.in_(digests))
            query = query.order_by(p.id).offset(offset)
            if limit is not None:
                query = query.limit(limit)
            return [Problem(*row) for row in conn.execute(query)]


def _run_columns() -> Any:
    r = braze_sync_runs.c
    return select(
        r.id, r.run_id, r.map_index, r.try_number, r.partition, r.status, r.started_at, r.finished_at, r.summary
    )


def _run(row: Any) -> Run:
    return Run(
        int(row.id),
        row.run_id,
        int(row.map_index),
        int(row.try_number),
        row.partition,
        row.status,
        float(row.started_at),
        None if row.finished_at is None else float(row.finished_at),
        dict(row.summary or {}),
    )
