"""A sync that is not an export (the Ketch subscription sync) keeps its runs in the sync ledger too,
so that the sync history page and the "Braze sync run" extra link show it with the exports.

Only the run is kept (its counts, and each change Braze refused with the reason); what the sync
decides to send is the Ketch state store's business.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_braze.hooks.state import sync_ledger_store

if TYPE_CHECKING:
    from airflow.sdk import Context


@dataclass
class RunRecord:
    """What the sync fills in while it runs.

    :param summary: the run's counts, in the exports' terms where they exist (``rows_read``,
        ``rows_sent``, ``accepted``, ``rejected``, ``unknown``, ``skipped``, ``unchanged``, ``seconds``).
    :param refused: ``(key, row reference, reason)`` of each change Braze refused; the key is a hex
        digest (never an identifier), the reason masks personal data.
    """

    summary: dict[str, Any] = field(default_factory=dict)
    refused: list[tuple[str, str, str]] = field(default_factory=list)


@contextlib.contextmanager
def recorded_run(
    sync_key: str, *, endpoint: str, mode: str, context: Context, state_conn_id: str | None = None
) -> Iterator[RunRecord]:
    """Open the task run's run of ``sync_key`` in the ledger; record it ``success`` or ``failed`` on leaving.

    :param sync_key: the sync's name (``dag_id.task_id`` by default, as for exports).
    :param endpoint: the catalogue name of the endpoint the sync writes to.
    :param mode: what it sends (``subscriptions``).
    :param context: the task's context (run id, map index).
    :param state_conn_id: the state store holding the ledger; the embedded SQLite file by default.
    """
    store = sync_ledger_store(state_conn_id)
    ti = context.get("ti")
    map_index = getattr(ti, "map_index", -1) if ti is not None else -1
    run = store.open_run(
        sync_key,
        endpoint=endpoint,
        mode=mode,
        run_id=str(context.get("run_id") or "manual"),
        map_index=-1 if map_index is None else int(map_index),
    )
    record = RunRecord()
    status = "failed"
    try:
        yield record
        status = "success"
    finally:
        try:
            problems = [(bytes.fromhex(key)[:16], ref, "rejected", None, why) for key, ref, why in record.refused]
            store.add_problems(run, problems)
            store.finish_run(run, status, record.summary)
        finally:
            store.dispose()
