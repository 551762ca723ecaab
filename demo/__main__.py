"""Run the demo: sandbox up, sample warehouse seeded, every example DAG through `airflow dags test`, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from airflow_provider_braze.hooks.ketch_settings import airflow_home, default_state_url
from airflow_provider_braze.state.sync_ledger import SyncLedgerStore
from demo import ketch, report, services, warehouse
from example_dags.ketch_settings import SUBSCRIPTION_GROUPS

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
#: The sandbox's key: a demo value, never a real Braze key.
DEMO_BRAZE_KEY = "demo-braze-key"

#: Every example DAG, with the logical dates to run it for (None: one manual run). The warehouse
#: export runs once per day of sample data, as a three-day backfill would.
WAREHOUSE_RUNS: list[tuple[str, str | None]] = [
    ("example_braze_hook", None),
    # `airflow dags test <dag> D` covers the data interval [D - 1 day, D): one day of sample data.
    *[("example_braze_warehouse_export", (day + warehouse.ONE_DAY).date().isoformat()) for day in warehouse.DAYS],
    ("example_braze_cdi", None),
]
#: The incremental sync runs twice: every customer once, then (after 1 % of them changed) only that.
INCREMENTAL_DAG = "example_braze_incremental_sync"
INCREMENTAL_DATES = ("2026-11-21", "2026-11-22")
INCREMENTAL_SYNC_KEY = "warehouse.customer_profiles"
KETCH_RUNS: list[tuple[str, str | None]] = [
    ("example_ketch_preferences", None),
    ("example_ketch_event_driven", None),
    ("example_ketch_rights_requests", None),
]
RUNS = WAREHOUSE_RUNS + [(INCREMENTAL_DAG, date) for date in INCREMENTAL_DATES] + KETCH_RUNS


def run_dag(dag_id: str, logical_date: str | None, env: dict[str, str]) -> None:
    started = time.monotonic()
    args = [sys.executable, "-m", "airflow", "dags", "test", dag_id, *([logical_date] if logical_date else [])]
    label = f"{dag_id} {logical_date or ''}".strip()
    print(f"=== airflow dags test {label}", flush=True)
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
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
    # The sandbox starts empty, so the sync ledger (what was sent before) must too.
    for path in Path(airflow_home()).glob("braze_provider_state.db*"):
        path.unlink()
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
            "AIRFLOW_CONN_BRAZE_DEFAULT": json.dumps(
                {"conn_type": "braze", "host": braze.url, "password": DEMO_BRAZE_KEY}
            ),
            "AIRFLOW_CONN_BRAZE_DEMO_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(db)}),
            "AIRFLOW_VAR_BRAZE_CDI_INTEGRATION_ID": integration,
            # `airflow dags test` runs every task in this one process tree, so the embedded state store is
            # shared by all attempts, even in a container whose own filesystem holds the demo's home.
            "AIRFLOW__BRAZE__ALLOW_LOCAL_STATE": "True",
        }
        for dag_id, logical_date in WAREHOUSE_RUNS:
            run_dag(dag_id, logical_date, env)
        after_warehouse = report.braze_state(braze.url)
        run_dag(INCREMENTAL_DAG, INCREMENTAL_DATES[0], env)
        changed = warehouse.change_plans(db, every=100)
        print(f"    {changed} customers changed plan in the warehouse (1 %)")
        run_dag(INCREMENTAL_DAG, INCREMENTAL_DATES[1], env)
        ketch_outcome = run_ketch_half(braze.url, db, env)
        final = report.braze_state(braze.url)
        report.print_braze_summary(after_warehouse, final)
        report.print_warehouse_comparison(db, after_warehouse)
        report.print_ketch_comparison(final, **ketch_outcome)
        report.print_incremental_runs(SyncLedgerStore(default_state_url()).runs(INCREMENTAL_SYNC_KEY))
    finally:
        braze.stop()


def run_ketch_half(braze_url: str, db: Path, env: dict[str, str]) -> dict:
    """Ketch sends preference changes and rights requests; the Ketch DAGs carry them into Braze."""
    for channels in SUBSCRIPTION_GROUPS.values():
        for channel, group in channels.items():
            requests.post(
                f"{braze_url}/_sandbox/subscription_groups",
                json={"subscription_group_id": group, "channel": channel},
                timeout=10,
            )
    state_db = WORK / "ketch_state.db"
    state_db.unlink(missing_ok=True)
    receiver, sandbox = ketch.start_services(state_db)
    try:
        print(f"Ketch webhook receiver on {receiver.url}; Ketch sandbox on {sandbox.url}")
        env = {
            **env,
            "AIRFLOW_CONN_KETCH_DEFAULT": json.dumps(
                {
                    "conn_type": "ketch",
                    "host": f"{sandbox.url}/web/v2",
                    "login": ketch.ORGANIZATION,
                    "password": ketch.DEMO_KETCH_TOKEN,
                    "extra": {"state_url": f"sqlite:///{state_db}"},
                }
            ),
        }
        emails = ketch.customer_emails(db)
        stream = ketch.send_preference_changes(sandbox.url, emails)
        planned = stream["stream"]
        print(
            f"Ketch sent {stream['delivery']['sent']:,} webhooks to the receiver: {planned['changes']:,} preference "
            f"changes by {planned['identities']} customers, {planned['redeliveries']} delivered twice, "
            f"{planned['stale_deliveries']} arriving after a newer change"
        )
        run_dag("example_ketch_preferences", None, env)
        # A customer unsubscribes from everything: the event-driven DAG carries it over.
        ketch.send(sandbox.url, "control", identity=emails[0], control="global_subscription", status="denied")
        run_dag("example_ketch_event_driven", None, env)
        erased = ketch.send(sandbox.url, "delete", identities=[emails[1]], subject_email=emails[1])["uid"]
        accessed = ketch.send(sandbox.url, "access", identities=[emails[2]], subject_email=emails[2])["uid"]
        corrected = ketch.send(
            sandbox.url,
            "correction",
            identities=[emails[3]],
            subject={"email": emails[3], "lastName": "Corrected", "city": "Lyon"},
        )["uid"]
        restricted = ketch.send(sandbox.url, "restriction", identities=[emails[4]], purposes=["marketing"])["uid"]
        run_dag("example_ketch_rights_requests", None, env)
        return {
            "expected": stream["expected_state"],
            "unsubscribed_all": emails[0],
            "erased": (emails[1], ketch.callbacks(sandbox.url, erased)),
            "accessed": (emails[2], ketch.callbacks(sandbox.url, accessed)),
            "corrected": (emails[3], ketch.callbacks(sandbox.url, corrected)),
            "restricted": (emails[4], ketch.callbacks(sandbox.url, restricted)),
        }
    finally:
        sandbox.stop()
        receiver.stop()


if __name__ == "__main__":
    main()
