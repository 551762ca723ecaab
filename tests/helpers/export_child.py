"""Run one attempt of a track export in its own process, so a test can kill it with SIGKILL or SIGTERM.

Usage: ``python -m tests.helpers.export_child '{"run_id": ..., "operator": {...}}'``; the Braze and
warehouse connections and ``AIRFLOW_HOME`` (where the sync ledger lives) come from the environment.
The summary (or the error) is printed as one JSON line when the attempt ends.

SIGTERM is handled as Airflow 3's task runner handles it around ``execute``
(``_on_term`` in ``airflow.sdk.execution_time.task_runner._run_task_and_map_outcome``): the
operator's ``on_kill()`` is called in the main thread, and the handler raises nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from airflow_provider_braze.operators import BrazeTrackUsersOperator


def main() -> None:
    spec = json.loads(sys.argv[1])
    operator = BrazeTrackUsersOperator(task_id="export", **spec["operator"])
    parent = os.getpid()

    def on_term(signum: int, frame: object) -> None:
        if os.getpid() == parent:  # as Airflow's: a forked child of the task must not run on_kill
            operator.on_kill()

    signal.signal(signal.SIGTERM, on_term)
    try:
        summary = operator.execute(context={"run_id": spec["run_id"]})
    except Exception as exc:  # noqa: BLE001 - the parent reads the outcome from stdout
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
        sys.exit(1)
    print(json.dumps(summary))


def start_attempt(operator: dict, run_id: str = "scheduled__2026-11-30") -> subprocess.Popen:
    """Start one attempt of the export ``operator`` describes in its own process (from a test)."""
    root = Path(__file__).resolve().parents[2]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.export_child", json.dumps({"run_id": run_id, "operator": operator})],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


if __name__ == "__main__":
    main()
