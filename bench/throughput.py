"""Throughput against Braze's rate limit (issue 8): this provider next to two hand-written clients.

Side by side in one run, each client in a process of its own, against the sandbox in its own process
with injected latency and Braze's documented /users/track limit (3,000 requests per 3 seconds, 75
objects each: a ceiling of 75,000 rows per second):

- ``provider``: ``BrazeTrackUsersOperator`` over SQLite with default settings (the sync ledger on, in
  a fresh SQLite store under a temporary ``AIRFLOW_HOME``, as a first run would have it);
- ``provider, one-shot``: the same with ``sync_ledger=False``;
- ``pool``: 64 threads posting with ``requests`` (:mod:`bench.throughput_clients`);
- ``loop``: one request after the other. Its rate is set by the latency alone, so it posts only the
  first :data:`LOOP_ROWS` rows.

Then a run where the sandbox's limit is below what the client can send (:data:`LOW_LIMIT`): the share
of the limit used over the middle of the run, and the 429s; and four workers (partitions of one
table, four processes at once) sharing one limit (:data:`SHARED_LIMIT`): together, the share of it
they use, their 429s, and whether the sandbox holds every row exactly once.

Columns: rows/s, ratio to the loop, share of the rate-limit ceiling, 429s, client CPU µs per row
(``getrusage`` of the client's process), peak RSS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.export_memory import KEY, make_table
from demo import services

#: Braze's /users/track limit: requests per window, window seconds, objects per request.
LIMIT, PERIOD, BATCH = 3_000, 3.0, 75
#: Rows the sequential loop posts (its rate depends on the latency only).
LOOP_ROWS = 7_500
#: The limit of the run where the limit binds: requests per 3 seconds.
LOW_LIMIT = 300
#: The limit four workers share (below what they could send together, so that it binds).
SHARED_LIMIT = 150
WORKERS = 4
LATENCIES_MS = (10, 50, 200)


def counts(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/_sandbox/counts", timeout=60) as answer:
        return json.load(answer)


def accepted_requests(url: str) -> int:
    return sum(n for status, n in counts(url)["responses"].items() if status.startswith("2"))


class Sampler:
    """Polls the sandbox's count of accepted requests while a client runs, for the rate over the middle of the run."""

    def __init__(self, url: str, every: float = 0.25) -> None:
        self.url, self.every = url, every
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), accepted_requests(self.url)))
            self._stop.wait(self.every)

    def middle_rate(self) -> float:
        """Accepted requests per second between the first request and the last, middle 60 % of that span."""
        moving = [(t, n) for t, n in self.samples if n > self.samples[0][1]]
        if len(moving) < 3:
            return 0.0
        start, end = moving[0][0], moving[-1][0]
        lo, hi = start + 0.2 * (end - start), start + 0.8 * (end - start)
        inside = [(t, n) for t, n in moving if lo <= t <= hi]
        if len(inside) < 2:
            return 0.0
        (t0, n0), (t1, n1) = inside[0], inside[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


def client_command(kind: str, db: Path, url: str, rows: int) -> list[str]:
    if kind.startswith("provider"):
        command = [sys.executable, "-m", "bench.export_child", "--db", str(db), "--concurrency", "0"]
        if kind == "provider, one-shot":
            command.append("--no-sync-ledger")
    else:
        command = [sys.executable, "-m", "bench.throughput_clients", kind, "--db", str(db), "--rows", str(rows)]
    return [*command, "--braze-url", url, "--key", KEY]


def run_client(kind: str, db: Path, url: str, rows: int) -> dict:
    """One client run in its own process; its JSON summary."""
    return run_processes([client_command(kind, db, url, rows)])[0]


def run_processes(commands: list[list[str]]) -> list[dict]:
    """Processes started together, each with an empty Airflow home and state store (a first run); their summaries."""
    with tempfile.TemporaryDirectory() as homes:
        running = []
        for n, command in enumerate(commands):
            env = {**os.environ, "AIRFLOW_HOME": str(Path(homes) / str(n))}
            running.append(
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            )
        outputs = [process.communicate() for process in running]
    for process, (_, err) in zip(running, outputs, strict=False):
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(process.args)} failed:\n{err[-4000:]}")
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


def measure(kind: str, db: Path, url: str, rows: int, ceiling_rows_s: float) -> dict:
    before = counts(url)["responses"]
    with Sampler(url) as sampler:
        summary = run_client(kind, db, url, rows)
    after = counts(url)["responses"]
    throttled = after.get("429", 0) - before.get("429", 0)
    seconds = summary["seconds"]
    rows_s = summary["rows_read"] / seconds if seconds else 0.0
    return {
        "client": kind,
        "rows": summary["rows_read"],
        "accepted": summary["accepted"],
        "seconds": seconds,
        "rows_s": rows_s,
        "ceiling_share": rows_s / ceiling_rows_s,
        "throttled": throttled,
        "middle_requests_s": sampler.middle_rate(),
        "cpu_us_per_row": summary["cpu_us_per_row"],
        "peak_rss_mb": summary["peak_rss_mb"],
    }


def sandbox(latency_ms: int, limit: int = LIMIT) -> services.Service:
    return services.start(
        "braze-sandbox",
        "airflow_provider_braze.sandbox.braze.cli",
        "--api-key",
        KEY,
        "--fast",
        "--latency-ms",
        str(latency_ms),
        "--rate-limit",
        f"users_track={limit}/{PERIOD:g}",
    )


def run(
    work: Path, big: int = 1_000_000, small: int = 100_000, latencies: tuple[int, ...] = LATENCIES_MS
) -> list[dict]:
    """Every run of the module's docstring; prints the table and the verdicts."""
    work.mkdir(parents=True, exist_ok=True)
    tables = {}
    for size in (small, big):
        tables[size] = work / f"customers_{size}.db"
        make_table(tables[size], size)
    ceiling = LIMIT / PERIOD * BATCH
    results: list[dict] = []
    for latency in latencies:
        braze = sandbox(latency)
        try:
            runs = [
                ("loop", small, LOOP_ROWS),
                ("pool", small, small),
                ("provider", small, small),
                ("provider, one-shot", small, small),
            ]
            if latency == 50:
                runs += [("pool", big, big), ("provider", big, big), ("provider, one-shot", big, big)]
            for kind, size, rows in runs:
                result = measure(kind, tables[size], braze.url, rows, ceiling)
                results.append({"latency_ms": latency, "limit": LIMIT, **result})
                _print_row(results[-1], results)
        finally:
            braze.stop()
    braze = sandbox(50, LOW_LIMIT)
    try:
        result = measure("provider", tables[small], braze.url, small, LOW_LIMIT / PERIOD * BATCH)
        results.append({"latency_ms": 50, "limit": LOW_LIMIT, **result})
        _print_row(results[-1], results)
    finally:
        braze.stop()
    shared = four_workers(tables[small], small)
    _print_verdicts(results, shared)
    return results


def four_workers(db: Path, rows: int) -> dict:
    """:data:`WORKERS` processes, one partition each, at once against one shared limit."""
    braze = sandbox(50, SHARED_LIMIT)
    try:
        base = client_command("provider", db, braze.url, rows)
        commands = [[*base, "--partition", f"{i}/{WORKERS}"] for i in range(WORKERS)]
        started = time.monotonic()
        with Sampler(braze.url) as sampler:
            summaries = run_processes(commands)
        seconds = time.monotonic() - started
        answers = counts(braze.url)
    finally:
        braze.stop()
    requests_made = sum(answers["responses"].values())
    result = {
        "rows": sum(s["rows_read"] for s in summaries),
        "accepted": sum(s["accepted"] for s in summaries),
        "seconds": seconds,
        "users_held": answers["users"],
        "throttled": answers["responses"].get("429", 0),
        "requests": requests_made,
        "share": sampler.middle_rate() / (SHARED_LIMIT / PERIOD),
    }
    print(
        f"{WORKERS} workers, one limit of {SHARED_LIMIT}/3 s, 50 ms: {result['rows']:,} rows in {seconds:.1f} s, "
        f"{result['share']:.0%} of the limit over the middle of the run, {result['throttled']} answers 429 of "
        f"{requests_made:,} requests, the sandbox holds {result['users_held']:,} users",
        flush=True,
    )
    return result


_HEADER = (
    f"{'latency':>7}  {'limit/3s':>8}  {'client':<19}{'rows':>10}  {'rows/s':>8}  {'vs loop':>7}  "
    f"{'of limit':>8}  {'429s':>5}  {'CPU µs/row':>10}  {'peak RSS':>8}"
)


def _print_row(row: dict, results: list[dict]) -> None:
    if len(results) == 1:
        print(_HEADER)
        print("-" * len(_HEADER))
    loop = next((r for r in results if r["client"] == "loop" and r["latency_ms"] == row["latency_ms"]), None)
    ratio = f"{row['rows_s'] / loop['rows_s']:.1f}x" if loop and loop["rows_s"] else "-"
    share = row["middle_requests_s"] / (row["limit"] / PERIOD) if row["limit"] != LIMIT else row["ceiling_share"]
    print(
        f"{row['latency_ms']:>5}ms  {row['limit']:>8,}  {row['client']:<19}{row['rows']:>10,}  {row['rows_s']:>8,.0f}  "
        f"{ratio:>7}  {share:>8.0%}  {row['throttled']:>5,}  {row['cpu_us_per_row']:>10.1f}"
        f"  {row['peak_rss_mb']:>6.0f} MB",
        flush=True,
    )


def _print_verdicts(results: list[dict], shared: dict) -> None:
    def find(client: str, rows: int, latency: int = 50, limit: int = LIMIT) -> dict:
        return next(
            r
            for r in results
            if (r["client"], r["rows"], r["latency_ms"], r["limit"]) == (client, rows, latency, limit)
        )

    big = max(r["rows"] for r in results)
    small = min(r["rows"] for r in results if r["client"] != "loop")
    provider, loop, pool = find("provider", big), find("loop", LOOP_ROWS), find("pool", big)
    limited = next(r for r in results if r["limit"] == LOW_LIMIT)
    checks = [
        (
            f"default settings, {big:,} rows, 50 ms: {provider['rows_s'] / loop['rows_s']:.0f}x the loop (>= 50)",
            provider["rows_s"] >= 50 * loop["rows_s"],
        ),
        (
            f"... and {provider['rows_s'] / pool['rows_s']:.2f}x the naive pool (>= 1)",
            provider["rows_s"] >= pool["rows_s"],
        ),
        (f"client CPU {provider['cpu_us_per_row']:.1f} µs a row (<= 10)", provider["cpu_us_per_row"] <= 10),
        (
            f"limit of {LOW_LIMIT}/3 s: {limited['middle_requests_s'] / (LOW_LIMIT / PERIOD):.0%} of it over the "
            f"middle of the run (>= 90 %), {limited['throttled']} answers 429 (<= 3)",
            limited["middle_requests_s"] >= 0.9 * LOW_LIMIT / PERIOD and limited["throttled"] <= 3,
        ),
        (
            f"peak RSS {provider['peak_rss_mb']:.0f} MB at {big:,} rows, "
            f"{find('provider', small)['peak_rss_mb']:.0f} MB at {small:,} (<= 1.1x)",
            provider["peak_rss_mb"] <= 1.1 * find("provider", small)["peak_rss_mb"],
        ),
    ]
    checks.append(
        (
            f"{WORKERS} workers sharing a limit: {shared['share']:.0%} of it (>= 85 %), "
            f"{shared['throttled'] / max(shared['requests'], 1):.1%} answers 429 (<= 1 %), "
            f"{shared['users_held']:,} of {shared['rows']:,} users held",
            shared["share"] >= 0.85
            and shared["throttled"] <= 0.01 * shared["requests"]
            and shared["users_held"] == shared["rows"] == shared["accepted"],
        )
    )
    for text, ok in checks:
        print(f"{text}: {'PASS' if ok else 'FAIL'}")
