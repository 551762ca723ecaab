"""The "Braze sync run" extra link of the export operators: from a task instance to its run in the sync history.

Airflow 3 computes an operator's links on the worker when the task ends and keeps them in XCom, so
the link is built from the task's own (rendered) ``sync_key`` and the task instance's run id and map
index. It points at ``/braze/syncs/<sync_key>/task-run``, which finds the ledger's run of that task
instance and redirects to its page: the worker need not read the ledger to make the link. Exports
that keep no ledger (identify, alias, delete, ``sync_ledger=False``, dry runs) get no link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

#: Where the sync history is mounted (see :mod:`.plugin`).
URL_PREFIX = "/braze"


def task_run_url(sync_key: str, run_id: str, map_index: int = -1, *, base_url: str = "") -> str:
    """The address of a task instance's run in the sync history.

    :param sync_key: the export's sync key.
    :param run_id: the DAG run's id.
    :param map_index: the mapped task's index (``-1`` when not mapped).
    :param base_url: ``[api] base_url`` when Airflow is served under one; else the path alone.
    """
    query = urlencode({"run_id": run_id, **({"map_index": map_index} if map_index >= 0 else {})})
    return f"{base_url.rstrip('/')}{URL_PREFIX}/syncs/{quote(sync_key, safe='')}/task-run?{query}"


def _records_runs(operator: Any) -> bool:
    """Whether the operator's run writes to the sync ledger: the subscription sync's always, an export's
    when it sends attributes, events or purchases to /users/track with the ledger on."""
    if getattr(operator, "records_sync_runs", False):
        return True
    if not getattr(operator, "sync_ledger", False) or getattr(operator, "dry_run", False):
        return False
    try:
        builder = operator.record_builder()
    except Exception:  # noqa: BLE001 - an export that cannot build records opened no ledger run
        return False
    return builder.endpoint == "users/track" and getattr(builder, "key", None) in ("attributes", "events", "purchases")


class BrazeSyncRunLink(BaseOperatorLink):
    """Opens the task instance's run in the Braze sync history (its counts and refused rows)."""

    name = "Braze sync run"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        if not _records_runs(operator):
            return ""
        try:  # the Task SDK's configuration on a worker; the core's where the SDK's is absent
            from airflow.sdk.configuration import conf
        except ImportError:  # pragma: no cover - Airflow 3.0
            from airflow.configuration import conf

        sync_key = getattr(operator, "sync_key", None) or f"{operator.dag_id}.{operator.task_id}"
        map_index = getattr(ti_key, "map_index", -1)
        return task_run_url(
            str(sync_key),
            str(ti_key.run_id),
            -1 if map_index is None else int(map_index),
            base_url=conf.get("api", "base_url", fallback="") or "",
        )
