"""One export in a process of its own, so that its peak memory is measured alone.

Prints one JSON line: the operator's summary plus the process's memory figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--braze-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    os.environ["AIRFLOW_CONN_BENCH_WAREHOUSE"] = json.dumps({"conn_type": "sqlite", "host": args.db})
    os.environ["AIRFLOW_CONN_BRAZE_DEFAULT"] = json.dumps(
        {"conn_type": "braze", "host": args.braze_url, "password": args.key, "extra": {"concurrency": args.concurrency}}
    )
    from airflow_provider_braze.operators import BrazeTrackUsersOperator

    operator = BrazeTrackUsersOperator(
        task_id="bench", sql="select * from customers", sql_conn_id="bench_warehouse", count_rows=True
    )
    baseline = peak_rss_mb()  # Airflow, the provider and the operator loaded; nothing exported yet
    summary = operator.execute(context={})
    print(json.dumps({**summary, "baseline_rss_mb": round(baseline, 1), "peak_rss_mb": round(peak_rss_mb(), 1)}))


if __name__ == "__main__":
    main()
