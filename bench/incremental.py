"""Incremental syncs at scale: 1,000,000 users, then 1 % of them changed, then nothing changed.

Side by side in one run, each export in its own process against the sandbox (``--fast``):

- ``dry run``: read, build, validate and batch every row, send nothing, no ledger: the floor a run
  that reads the whole table cannot go under;
- ``one-shot``: the export as it was before the sync ledger (``sync_ledger=False``);
- ``first sync``: the same with ``only_changed=True`` on an empty ledger: every row is sent and its
  fingerprints recorded (the ledger's added CPU per row is this against the one-shot export);
- ``dry run, ledger``: the same dry run with ``only_changed=True``: it reads the ledger too, and
  reports what the next run would send;
- ``1 % changed``: one attribute changed for 1 % of the users: exactly that many values must be sent,
  in at most 1.5 times the (ledger-free) dry run's time (issue 7);
- ``nothing changed``: nothing is sent.

Single runs on a shared 2-core machine vary by a fifth, so the 1 % bound is judged on the median of
:data:`ROUNDS` alternating rounds (a dry run, then 1 % changed again), not on one pair.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import time
import urllib.request
from pathlib import Path

from bench.export_memory import KEY, export, make_table
from demo import services

#: Issue 7's bound on the 1 % run against the dry run.
MAX_RATIO = 1.5
#: Alternating rounds of a dry run and a 1 % run whose medians are compared.
ROUNDS = 5


def change_one_attribute(db_path: Path, every: int) -> int:
    """Change ``plan`` for one user in ``every``; returns how many users changed."""
    db = sqlite3.connect(db_path)
    try:
        changed = db.execute("update customers set plan = plan || '-changed' where rowid % ? = 0", (every,)).rowcount
        db.commit()
    finally:
        db.close()
    return changed


def data_points(braze_url: str) -> int:
    with urllib.request.urlopen(f"{braze_url}/_sandbox/counts", timeout=60) as answer:
        return int(json.load(answer)["data_points"])


def run(work: Path, rows: int = 1_000_000) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    state = (work / "incremental_state.db").resolve()
    for stale in work.glob("incremental_state.db*"):
        stale.unlink()
    db = work / f"incremental_{rows}.db"
    make_table(db, rows)
    braze = services.start("braze-sandbox", "airflow_provider_braze.sandbox.braze.cli", "--api-key", KEY, "--fast")
    results: dict[str, dict] = {}
    try:
        ledger = ("--state-db", str(state))

        def measure(name: str, *options: str) -> dict:
            before = data_points(braze.url)
            started = time.monotonic()
            summary = export(db, braze.url, *options)
            summary["wall_seconds"] = time.monotonic() - started
            summary["values_written"] = data_points(braze.url) - before
            results[name] = summary
            return summary

        measure("dry run", "--dry-run", "--no-sync-ledger")
        measure("one-shot", "--no-sync-ledger")
        measure("first sync", *ledger, "--only-changed", "--run-id", "run-1")
        changed = change_one_attribute(db, 100)
        measure("dry run, ledger", *ledger, "--only-changed", "--dry-run")
        measure("1 % changed", *ledger, "--only-changed", "--run-id", "run-2")
        measure("nothing changed", *ledger, "--only-changed", "--run-id", "run-3")
        rounds = [(results["dry run"], results["1 % changed"])]
        for n in range(2, ROUNDS + 1):
            dry = measure(f"dry run {n}", "--dry-run", "--no-sync-ledger")
            change_one_attribute(db, 100)
            rounds.append((dry, measure(f"1 % changed {n}", *ledger, "--only-changed", "--run-id", f"round-{n}")))
    finally:
        braze.stop()
    _print(results, rows, changed, rounds)
    return results


def _print(results: dict[str, dict], rows: int, changed: int, rounds: list[tuple[dict, dict]]) -> None:
    dry = results["dry run"]["seconds"]
    print(f"{rows:,} users; {changed:,} of them with one attribute changed before the '1 % changed' run")
    header = (
        f"{'run':<18}{'rows read':>11}{'rows sent':>11}{'values':>11}{'unchanged':>11}{'seconds':>9}{'rows/s':>10}"
        f"{'CPU µs/row':>12}{'vs dry':>8}{'peak RSS':>10}"
    )
    print(header)
    print("-" * len(header))
    for name, s in results.items():
        print(
            f"{name:<18}{s['rows_read']:>11,}{s.get('rows_to_send', s['rows_sent']):>11,}"
            f"{s['values_written']:>11,}{s['unchanged']:>11,}"
            f"{s['seconds']:>9.1f}{s['rows_read'] / s['seconds']:>10,.0f}{s['cpu_us_per_row']:>12.1f}"
            f"{s['seconds'] / dry:>8.2f}{s['peak_rss_mb']:>7.0f} MB"
        )
    one_shot, first = results["one-shot"], results["first sync"]
    second, third = results["1 % changed"], results["nothing changed"]
    print(
        f"sync ledger's added CPU per attribute row (first sync vs one-shot): "
        f"{first['cpu_us_per_row'] - one_shot['cpu_us_per_row']:+.1f} µs "
        f"({one_shot['cpu_us_per_row']:.1f} -> {first['cpu_us_per_row']:.1f})"
    )
    print(
        f"1 % changed vs the dry run with the ledger: {second['seconds'] / results['dry run, ledger']['seconds']:.2f}x"
    )
    dry_median = statistics.median(d["seconds"] for d, _ in rounds)
    pct_median = statistics.median(p["seconds"] for _, p in rounds)
    ratio = pct_median / dry_median
    each = ", ".join(f"{p['seconds'] / d['seconds']:.2f}x" for d, p in rounds)
    checks = [
        (
            f"1 % changed sends exactly {changed:,} values, in every round",
            all(p["values_written"] == changed == p["data_points"] for _, p in rounds),
        ),
        (
            f"1 % changed takes {ratio:.2f}x the dry run, medians of {len(rounds)} rounds ({pct_median:.1f} s "
            f"against {dry_median:.1f} s; round by round {each}) (<= {MAX_RATIO})",
            ratio <= MAX_RATIO,
        ),
        ("nothing changed sends nothing", third["rows_sent"] == third["values_written"] == 0),
    ]
    for label, ok in checks:
        print(f"{label}: {'PASS' if ok else 'FAIL'}")
