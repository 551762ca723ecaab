"""`make bench`: run every benchmark and print its figures and ratios."""

from __future__ import annotations

from pathlib import Path

from bench import export_memory

WORK = Path(__file__).resolve().parent / "results"


def main() -> None:
    print("== export of a SQL table: throughput and peak memory")
    export_memory.run(WORK)


if __name__ == "__main__":
    main()
