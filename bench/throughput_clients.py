"""The two hand-written clients the provider is measured against (issue 8), each run in a process of its own.

- ``loop``: what a data engineer writes first: read rows, post 75 at a time with ``requests``, one
  after the other;
- ``pool``: the 20-line upgrade: the same posts from 64 threads (one ``requests`` session each).

Neither validates anything, retries, or respects a rate limit: a 429 is counted and the batch is lost.
Prints one JSON line: rows posted, seconds, answers by status, CPU and peak memory of this process.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.export_child import cpu_seconds, peak_rss_mb

BATCH = 75
THREADS = 64


def batches(db: str, rows: int) -> Iterator[list[dict]]:
    """The table's first ``rows`` rows as /users/track attribute objects, 75 at a time."""
    conn = sqlite3.connect(db)
    try:
        cursor = conn.execute("select * from customers limit ?", (rows,))
        columns = [d[0] for d in cursor.description]
        while chunk := cursor.fetchmany(BATCH):
            yield [dict(zip(columns, row, strict=False)) for row in chunk]
    finally:
        conn.close()


def loop(db: str, url: str, key: str, rows: int) -> tuple[Counter, int]:
    """Answers by status, and rows Braze accepted."""
    statuses: Counter = Counter()
    accepted = 0
    session = requests.Session()
    for batch in batches(db, rows):
        answer = session.post(url, json={"attributes": batch}, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        statuses[answer.status_code] += 1
        accepted += len(batch) if answer.ok else 0
    return statuses, accepted


def pool(db: str, url: str, key: str, rows: int) -> tuple[Counter, int]:
    """Answers by status, and rows Braze accepted."""
    statuses: Counter = Counter()
    accepted = 0
    lock = threading.Lock()
    local = threading.local()

    def post(batch: list[dict]) -> None:
        nonlocal accepted
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        answer = session.post(url, json={"attributes": batch}, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        with lock:
            statuses[answer.status_code] += 1
            accepted += len(batch) if answer.ok else 0

    with ThreadPoolExecutor(THREADS) as threads:
        list(threads.map(post, batches(db, rows)))
    return statuses, accepted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("client", choices=["loop", "pool"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--braze-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--rows", type=int, required=True)
    args = parser.parse_args()
    client = {"loop": loop, "pool": pool}[args.client]
    cpu_before, started = cpu_seconds(), time.monotonic()
    statuses, accepted = client(args.db, args.braze_url.rstrip("/") + "/users/track", args.key, args.rows)
    seconds, cpu = time.monotonic() - started, cpu_seconds() - cpu_before
    print(
        json.dumps(
            {
                "rows_read": args.rows,
                "accepted": accepted,
                "seconds": round(seconds, 3),
                "statuses": {str(s): n for s, n in statuses.items()},
                "cpu_us_per_row": round(cpu / args.rows * 1e6, 2),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
