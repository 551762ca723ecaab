"""Export a 1,000,000-row SQL table to the Braze sandbox and measure the exporter's peak memory.

The target (issue 3) is a peak under 400 MB whatever the table size: rows stream from the cursor
through bounded queues. The same export of a 10x smaller table runs first, side by side: if memory
grew with the table, the two peaks would differ by far more than the 1,000,000-row run's noise.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from demo import services

KEY = "bench-braze-key"


def make_table(path: Path, rows: int) -> None:
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute(
        "create table customers (external_id text, first_name text, plan text, score integer, "
        "lifetime_value real, country text, newsletter integer, signup_date text)"
    )
    db.executemany(
        "insert into customers values (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (f"user-{n:07d}", "Ada", ("free", "pro", "team")[n % 3], n % 1000, n * 0.01, "FR", n % 2, "2026-01-15")
            for n in range(rows)
        ),
    )
    db.commit()
    db.close()


def export(db: Path, braze_url: str, *options: str) -> dict:
    """One export in its own process (options as ``bench.export_child`` takes them); its summary and figures."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.export_child", "--db", str(db), "--braze-url", braze_url, "--key", KEY, *options],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"export {' '.join(options)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(work: Path, rows: int = 1_000_000) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    braze = services.start("braze-sandbox", "airflow_provider_braze.sandbox.braze.cli", "--api-key", KEY, "--fast")
    try:
        for size in (rows // 10, rows):
            db = work / f"customers_{size}.db"
            started = time.monotonic()
            make_table(db, size)
            built = time.monotonic() - started
            # A one-shot export, as this benchmark measured before the sync ledger existed (see bench.incremental).
            summary = export(db, braze.url, "--no-sync-ledger")
            results[size] = summary
            print(
                f"{size:>9,} rows: table built in {built:.1f} s; exported in {summary['seconds']:.1f} s "
                f"({size / summary['seconds']:,.0f} rows/s, {summary['requests']:,} requests, "
                f"{summary['accepted']:,} accepted); exporter peak RSS {summary['peak_rss_mb']:.0f} MB "
                f"(of which {summary['baseline_rss_mb']:.0f} MB is Airflow + provider loaded before the export)",
                flush=True,
            )
    finally:
        braze.stop()
    small, large = results[rows // 10], results[rows]
    growth = large["peak_rss_mb"] - small["peak_rss_mb"]
    print(
        f"memory: 10x more rows -> peak RSS {small['peak_rss_mb']:.0f} MB vs {large['peak_rss_mb']:.0f} MB "
        f"(+{growth:.0f} MB, ratio {large['peak_rss_mb'] / small['peak_rss_mb']:.2f}); target: < 400 MB "
        f"-> {'PASS' if large['peak_rss_mb'] < 400 else 'FAIL'}"
    )
    return results
