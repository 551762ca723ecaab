"""Run the demo: sandboxes up, every example DAG through `airflow dags test`, then the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from demo import report, services

ROOT = Path(__file__).resolve().parent.parent
#: The sandbox's key: a demo value, never a real Braze key.
DEMO_BRAZE_KEY = "demo-braze-key"


def example_dags() -> list[str]:
    """DAG ids of the example DAGs, in file order."""
    ids = []
    for path in sorted((ROOT / "example_dags").glob("example_*.py")):
        for line in path.read_text().splitlines():
            if line.strip().startswith("dag_id="):
                ids.append(line.split("=", 1)[1].strip().strip(",").strip("\"'"))
    return ids


def run_dag(dag_id: str, env: dict[str, str]) -> None:
    started = time.monotonic()
    print(f"\n=== airflow dags test {dag_id}", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id],
        env=env, capture_output=True, text=True,
    )
    log = ROOT / ".demo" / f"{dag_id}.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        print(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"{dag_id} failed (exit {done.returncode}); full log in {log}")
    print(f"    succeeded in {time.monotonic() - started:.1f} s (log: {log.relative_to(ROOT)})")


def main() -> None:
    braze = services.start("braze-sandbox", "airflow_provider_braze.sandbox.braze.cli", "--api-key", DEMO_BRAZE_KEY)
    try:
        print(f"Braze sandbox listening on {braze.url}")
        env = {
            **os.environ,
            "AIRFLOW_CONN_BRAZE_DEFAULT": json.dumps(
                {"conn_type": "braze", "host": braze.url, "password": DEMO_BRAZE_KEY}
            ),
        }
        for dag_id in example_dags():
            run_dag(dag_id, env)
        report.print_braze_summary(report.braze_state(braze.url))
    finally:
        braze.stop()


if __name__ == "__main__":
    main()
