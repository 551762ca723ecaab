"""`make bench`: run every benchmark and print its figures and ratios."""

from __future__ import annotations

from pathlib import Path

from bench import export_memory, incremental, throughput

WORK = Path(__file__).resolve().parent / "results"


def main() -> None:
    print("== export of a SQL table: throughput and peak memory")
    export_memory.run(WORK)
    print("\n== incremental syncs: 1,000,000 users, then 1 % changed, then nothing changed")
    incremental.run(WORK)
    print("\n== throughput against Braze's rate limit: the provider, a sequential loop, a naive thread pool")
    throughput.run(WORK)


if __name__ == "__main__":
    main()
