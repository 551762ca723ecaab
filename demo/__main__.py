"""Run the demo: sandbox up, sample warehouse seeded, every example DAG through `airflow dags test`, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from demo import report, services, warehouse

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
#: The sandbox's key: a demo value, never a real Braze key.
DEMO_BRAZE_KEY = "demo-braze-key"

#: Every example DAG, with the logical dates to run it for (None: one manual run). The warehouse
#: export runs once per day of sample data, as a three-day backfill would.
RUNS: list[tuple[str, str | None]] = [
    ("example_braze_hook", None),
    # `airflow dags test <dag> D` covers the data interval [D - 1 day, D): one day of sample data.
    *[("example_braze_warehouse_export", (day + warehouse.ONE_DAY).date().isoformat()) for day in warehouse.DAYS],
    ("example_braze_cdi", None),
]


def run_dag(dag_id: str, logical_date: str | None, env: dict[str, str]) -> None:
    started = time.monotonic()
    args = [sys.executable, "-m", "airflow", "dags", "test", dag_id, *([logical_date] if logical_date else [])]
    label = f"{dag_id} {logical_date or ''}".strip()
    print(f"=== airflow dags test {label}", flush=True)
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    log = WORK / f"{label.replace(' ', '_')}.log"
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        print(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"{label} failed (exit {done.returncode}); full log in {log}")
    print(f"    succeeded in {time.monotonic() - started:.1f} s (log: {log.relative_to(ROOT)})", flush=True)


def check_every_example_runs() -> None:
    files = {p.stem for p in (ROOT / "example_dags").glob("example_*.py")}
    missing = files - {dag_id for dag_id, _ in RUNS}
    if missing:
        raise SystemExit(f"The demo does not run these example DAGs: {sorted(missing)}")


def main() -> None:
    check_every_example_runs()
    WORK.mkdir(exist_ok=True)
    db = warehouse.seed(WORK / "warehouse.db")
    print(f"Sample warehouse seeded: {db.relative_to(ROOT)}")
    braze = services.start("braze-sandbox", "airflow_provider_braze.sandbox.braze.cli", "--api-key", DEMO_BRAZE_KEY)
    try:
        print(f"Braze sandbox listening on {braze.url}")
        integration = requests.post(
            f"{braze.url}/_sandbox/cdi/integrations",
            json={"integration_name": "customers table", "job_duration": 2, "rows_synced": 300},
            timeout=10,
        ).json()["integration_id"]
        env = {
            **os.environ,
            "AIRFLOW_CONN_BRAZE_DEFAULT": json.dumps({"conn_type": "braze", "host": braze.url, "password": DEMO_BRAZE_KEY}),
            "AIRFLOW_CONN_BRAZE_DEMO_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(db)}),
            "AIRFLOW_VAR_BRAZE_CDI_INTEGRATION_ID": integration,
        }
        for dag_id, logical_date in RUNS:
            run_dag(dag_id, logical_date, env)
        state = report.braze_state(braze.url)
        report.print_braze_summary(state)
        report.print_warehouse_comparison(db, state)
    finally:
        braze.stop()


if __name__ == "__main__":
    main()
