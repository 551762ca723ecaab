"""Run one attempt of a track export in its own process, so a test can kill it (SIGKILL, SIGTERM) or
run several at once.

Usage: ``python -m tests.helpers.export_child '{"run_id": ..., "operator": {...}}'``, with optionally
``"dag_id"`` (the operator is made inside a DAG of that id, default: none, ``adhoc_airflow``),
``"task_id"`` (default ``export``) and ``"logical_date"`` (ISO 8601, given to the task as Airflow
gives a DAG run's). The Braze and warehouse connections and ``AIRFLOW_HOME`` (where the sync ledger
lives) come from the environment. The task's log goes to stdout (Airflow's logging sends it there);
the summary (or the error) is printed as its last line, as JSON, when the attempt ends.

SIGTERM is handled as Airflow 3's task runner handles it around ``execute``
(``_on_term`` in ``airflow.sdk.execution_time.task_runner._run_task_and_map_outcome``): the
operator's ``on_kill()`` is called in the main thread, and the handler raises nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
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
    parent = os.getpid()

    def on_term(signum: int, frame: object) -> None:
        if os.getpid() == parent:  # as Airflow's: a forked child of the task must not run on_kill
            operator.on_kill()

    signal.signal(signal.SIGTERM, on_term)
    try:
        summary = operator.execute(context=context)
    except Exception as exc:  # noqa: BLE001 - the parent reads the outcome from stdout
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
        sys.exit(1)
    print(json.dumps(summary))


def start_attempt(operator: dict, run_id: str = "scheduled__2026-11-30", **spec: Any) -> subprocess.Popen:
    """Start one attempt of the export ``operator`` describes in its own process (from a test).

    :param spec: ``dag_id``, ``task_id``, ``logical_date``, as the module's usage says.
    """
    root = Path(__file__).resolve().parents[2]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.helpers.export_child",
            json.dumps({"run_id": run_id, "operator": operator, **spec}),
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


if __name__ == "__main__":
    main()
