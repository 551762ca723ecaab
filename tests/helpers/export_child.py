"""Run one attempt of a track export in its own process, so a test can kill it with SIGKILL.

Usage: ``python -m tests.helpers.export_child '{"run_id": ..., "operator": {...}}'``; the Braze and
warehouse connections and ``AIRFLOW_HOME`` (where the sync ledger lives) come from the environment.
The summary is printed as one JSON line when the attempt ends.
"""

from __future__ import annotations

import json
import sys

from airflow_provider_braze.operators import BrazeTrackUsersOperator


def main() -> None:
    spec = json.loads(sys.argv[1])
    operator = BrazeTrackUsersOperator(task_id="export", **spec["operator"])
    try:
        summary = operator.execute(context={"run_id": spec["run_id"]})
    except Exception as exc:  # noqa: BLE001 - the parent reads the outcome from stdout
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
        sys.exit(1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
