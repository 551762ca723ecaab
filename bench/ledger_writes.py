"""What the sync ledger's writes cost in SQLite alone, per layout (the issue-8 ledger question).

A first sync writes one row per user as batches complete. This measures only SQLite (no exporter,
no Python besides the loop), for ``users`` random user keys, so layouts can be compared on their
own: CPU and wall time per user.

- ``current``: the ledger's layout (users keyed by a random 64-bit key, a covering index on the
  row digest, fingerprints in a second table), upserted in groups of ``group`` users per commit;
- ``merged``: fingerprints in the users table (one B-tree fewer);
- ``log``: an append-only log committed per group and merged into the ``current`` tables in sorted
  batches of ``merge`` users (one transaction each).

Run: ``python -m bench.ledger_writes [users] [group] [merge]`` (defaults 1,000,000, 1,200, 250,000).
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

_USERS = (
    "create table u (user_key integer primary key, sync_id int not null, user_hash blob not null, "
    "row_hash blob not null, points int not null, run int not null, updated_at real not null{extra})"
)
_VALUES = "create table v (user_key integer primary key, sync_id int not null, fingerprints blob not null)"
_DIGEST_INDEX = "create index ix on u (row_hash, sync_id, user_key, points)"


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def _users(rnd: random.Random, count: int) -> list[tuple]:
    prints = os.urandom(90)  # about what ten attribute fingerprints take
    return [(rnd.getrandbits(63), 1, os.urandom(16), os.urandom(16), 12, 1, 1.0, prints) for _ in range(count)]


def measure(layout: str, users: int, group: int, merge: int) -> tuple[float, float]:
    """CPU and wall microseconds per user for one layout."""
    with tempfile.TemporaryDirectory() as folder:
        conn = _connect(Path(folder) / "ledger.db")
        conn.execute(_USERS.format(extra=", fingerprints blob" if layout == "merged" else ""))
        if layout != "merged":
            conn.execute(_VALUES)
        conn.execute(_DIGEST_INDEX)
        if layout == "log":
            conn.execute(
                "create table log (seq integer primary key, user_key int, sync_id int, user_hash blob, "
                "row_hash blob, points int, run int, updated_at real, fingerprints blob)"
            )
        rnd = random.Random(1)
        wall, cpu = time.perf_counter(), time.process_time()
        done = since_merge = 0
        while done < users:
            rows = _users(rnd, min(group, users - done))
            conn.execute("begin")
            if layout == "current":
                conn.executemany(
                    "insert into u values (?,?,?,?,?,?,?) on conflict (user_key) do update set "
                    "row_hash = excluded.row_hash",
                    [r[:7] for r in rows],
                )
                conn.executemany(
                    "insert into v values (?,?,?) on conflict (user_key) do update set "
                    "fingerprints = excluded.fingerprints",
                    [(r[0], 1, r[7]) for r in rows],
                )
            elif layout == "merged":
                conn.executemany(
                    "insert into u values (?,?,?,?,?,?,?,?) on conflict (user_key) do update set "
                    "row_hash = excluded.row_hash, fingerprints = excluded.fingerprints",
                    rows,
                )
            else:
                conn.executemany(
                    "insert into log (user_key, sync_id, user_hash, row_hash, points, run, updated_at, "
                    "fingerprints) values (?,?,?,?,?,?,?,?)",
                    rows,
                )
            conn.execute("commit")
            done += len(rows)
            since_merge += len(rows)
            if layout == "log" and (since_merge >= merge or done >= users):
                _merge(conn)
                since_merge = 0
        result = ((time.process_time() - cpu) / users * 1e6, (time.perf_counter() - wall) / users * 1e6)
        conn.close()
    return result


def _merge(conn: sqlite3.Connection) -> None:
    """The log into the ledger's tables in key order, in one transaction."""
    conn.execute("begin")
    conn.execute(
        "insert into u select user_key, sync_id, user_hash, row_hash, points, run, updated_at from log "
        "where true order by user_key on conflict (user_key) do update set row_hash = excluded.row_hash"
    )
    conn.execute(
        "insert into v select user_key, sync_id, fingerprints from log where true order by user_key "
        "on conflict (user_key) do update set fingerprints = excluded.fingerprints"
    )
    conn.execute("delete from log")
    conn.execute("commit")


def main() -> None:
    given = [int(a) for a in sys.argv[1:4]]
    users, group, merge = given + [1_000_000, 1_200, 250_000][len(given) :]
    print(f"SQLite ledger writes, {users:,} random users, {group:,} per commit (log merges every {merge:,}):")
    print(f"{'layout':<10}{'CPU µs/user':>14}{'wall µs/user':>14}")
    for layout in ("current", "merged", "log"):
        cpu, wall = measure(layout, users, group, merge)
        print(f"{layout:<10}{cpu:>14.1f}{wall:>14.1f}", flush=True)


if __name__ == "__main__":
    main()
