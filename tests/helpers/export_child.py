"""Run one attempt of a track export in its own process, so a test can kill it or run several at once.

Usage: ``python -m tests.helpers.export_child '{"run_id": ..., "operator": {...}}'``, with optionally
``"dag_id"`` (the operator is made inside a DAG of that id, default: none, ``adhoc_airflow``),
``"task_id"`` (default ``export``) and ``"logical_date"`` (ISO 8601, given to the task as Airflow
gives a DAG run's). The Braze and warehouse connections and ``AIRFLOW_HOME`` (where the sync ledger
lives) come from the environment. The task's log goes to stdout (Airflow's logging sends it there);
the summary is printed as its last line, as JSON, when the attempt ends.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import datetime
from typing import Any

from airflow.sdk import DAG

from airflow_provider_braze.operators import BrazeTrackUsersOperator


def main() -> None:
    spec = json.loads(sys.argv[1])
    dag = DAG(spec["dag_id"], schedule=None) if spec.get("dag_id") else contextlib.nullcontext()
    with dag:
        operator = BrazeTrackUsersOperator(task_id=spec.get("task_id", "export"), **spec["operator"])
    context: dict[str, Any] = {"run_id": spec["run_id"]}
    if spec.get("logical_date"):
        context["logical_date"] = datetime.fromisoformat(spec["logical_date"])
    try:
        summary = operator.execute(context=context)
    except Exception as exc:  # noqa: BLE001 - the parent reads the outcome from stdout
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
        sys.exit(1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
