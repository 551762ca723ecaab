"""One export in a process of its own, so that its memory and CPU are measured alone.

Prints one JSON line: the operator's summary plus the process's memory and CPU figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--braze-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--concurrency", type=int, default=8, help="0: not set (the provider's default)")
    parser.add_argument("--state-db", help="SQLite file of the sync ledger (reached as connection bench_state)")
    parser.add_argument("--run-id", default="bench-run")
    parser.add_argument("--no-sync-ledger", action="store_true", help="a one-shot export (sync_ledger=False)")
    parser.add_argument("--only-changed", action="store_true")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--partition", help="index/count: export one partition of the table")
    args = parser.parse_args()
    if args.state_db:
        os.environ["AIRFLOW_CONN_BENCH_STATE"] = json.dumps(
            {"conn_type": "sqlite", "host": os.path.abspath(args.state_db)}
        )
    os.environ["AIRFLOW_CONN_BENCH_WAREHOUSE"] = json.dumps({"conn_type": "sqlite", "host": args.db})
    extra = {"concurrency": args.concurrency} if args.concurrency else {}
    os.environ["AIRFLOW_CONN_BRAZE_DEFAULT"] = json.dumps(
        {"conn_type": "braze", "host": args.braze_url, "password": args.key, "extra": extra}
    )
    from airflow_provider_braze.operators import BrazeTrackUsersOperator

    operator = BrazeTrackUsersOperator(
        task_id="bench",
        sql="select * from customers",
        sql_conn_id="bench_warehouse",
        count_rows=True,
        sync_ledger=not args.no_sync_ledger,
        only_changed=args.only_changed,
        dry_run=args.dry_run,
        state_conn_id="bench_state" if args.state_db else None,
        partition=args.partition,
    )
    baseline = peak_rss_mb()  # Airflow, the provider and the operator loaded; nothing exported yet
    cpu_before = cpu_seconds()
    summary = operator.execute(context={"run_id": args.run_id})
    cpu = cpu_seconds() - cpu_before
    print(
        json.dumps(
            {
                **summary,
                "baseline_rss_mb": round(baseline, 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "cpu_seconds": round(cpu, 3),
                "cpu_us_per_row": round(cpu / max(summary["rows_read"], 1) * 1e6, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
