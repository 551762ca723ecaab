"""``braze-sync-ledger``: look at, settle or forget what the sync ledger holds for an export sync.

    braze-sync-ledger list
    braze-sync-ledger show warehouse.customer_profiles
    braze-sync-ledger runs warehouse.customer_profiles
    braze-sync-ledger settle warehouse.app_events --delivered       # checked in Braze: they arrived
    braze-sync-ledger settle warehouse.app_events --not-delivered   # they did not: the next run sends them
    braze-sync-ledger reset warehouse.customer_profiles --yes        # forget everything about the sync
    braze-sync-ledger rename warehouse.profiles warehouse.customer_profiles  # a task renamed: keep its ledger
    braze-sync-ledger release warehouse.customer_profiles            # the next task to run it owns it
    braze-sync-ledger unrecorded warehouse.app_events               # outcomes a failed store could not record
    braze-sync-ledger replay /path/to/12-1.jsonl                    # record a spool brought from another machine

The store is the embedded SQLite file under ``AIRFLOW_HOME`` unless ``--state-conn-id`` names an
Airflow connection (as the operators' ``state_conn_id``) or ``--state-url-env`` an environment
variable holding a SQLAlchemy URL (kept off the command line, where ``ps`` would show a password).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when used, so that --help starts without SQLAlchemy
    from airflow_provider_braze.state.sync_ledger import SyncLedgerStore


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="braze-sync-ledger", description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--state-conn-id", metavar="CONN_ID", help="Airflow connection of the state store.")
    where.add_argument("--state-url-env", metavar="NAME", help="environment variable holding its SQLAlchemy URL.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every sync the ledger knows")
    for name, text in (("show", "what the ledger holds for a sync"), ("runs", "a sync's latest task runs")):
        commands.add_parser(name, help=text).add_argument("sync_key")
    settle = commands.add_parser("settle", help="decide rows whose outcome is unknown")
    settle.add_argument("sync_key")
    verdict = settle.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--delivered", action="store_true", help="they reached Braze: never send them again")
    verdict.add_argument("--not-delivered", action="store_true", help="they did not: the next run sends them")
    rename = commands.add_parser("rename", help="move a sync's ledger to a new key (a task or DAG renamed)")
    rename.add_argument("sync_key")
    rename.add_argument("new_key")
    commands.add_parser("release", help="forget a sync's owner: the next task to run it owns it").add_argument(
        "sync_key"
    )
    unrecorded = commands.add_parser(
        "unrecorded", help="a sync's outcomes kept in unrecorded spools on this machine (the store had failed)"
    )
    unrecorded.add_argument("sync_key")
    unrecorded.add_argument("--rows", action="store_true", help="one line per row, not per spool file")
    replay = commands.add_parser("replay", help="record an unrecorded spool file into the store, then remove it")
    replay.add_argument("file")
    reset = commands.add_parser("reset", help="forget everything about a sync (its next run sends every row)")
    reset.add_argument("sync_key")
    reset.add_argument(
        "--yes", action="store_true", help="confirm: events and purchases sent before would be sent again"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    store = _store(parser, args)
    try:
        return _run(parser, args, store)
    finally:
        store.dispose()


def _store(parser: argparse.ArgumentParser, args: argparse.Namespace) -> SyncLedgerStore:
    from airflow_provider_braze.state.sync_ledger import SyncLedgerStore

    if args.state_url_env:
        url = os.environ.get(args.state_url_env, "").strip()
        if not url:
            parser.error(f"environment variable {args.state_url_env} is not set or empty")
        return SyncLedgerStore(url)
    from airflow_provider_braze.hooks.state import state_store_url

    return SyncLedgerStore(state_store_url(args.state_conn_id))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, store: SyncLedgerStore) -> int:
    if args.command == "list":
        for key in store.sync_keys():
            print(key)
        return 0
    if args.command == "runs":
        for run in store.runs(args.sync_key):
            print(json.dumps(run, default=str))
        return 0
    from airflow_provider_braze.state.unrecorded_spool import UnrecordedSpoolError

    if args.command in ("unrecorded", "replay"):
        try:
            return (
                _unrecorded(args.sync_key, rows=args.rows)
                if args.command == "unrecorded"
                else _replay(store, args.file)
            )
        except UnrecordedSpoolError as exc:
            print(f"braze-sync-ledger: {exc}", file=sys.stderr)
            return 1
    state = store.state(args.sync_key)
    if state is None:
        print(f"braze-sync-ledger: no sync {args.sync_key!r} in this state store", file=sys.stderr)
        return 1
    if args.command == "show":
        print(
            json.dumps(
                {
                    "sync_key": state.sync_key,
                    "endpoint": state.endpoint,
                    "mode": state.mode,
                    "users": state.users,
                    "keys": state.keys,
                    "open_problems": state.open_problems,
                    "runs": state.runs,
                    "owner": state.owner,
                },
                indent=2,
            )
        )
        return 0
    if args.command == "rename":
        try:
            store.rename(args.sync_key, args.new_key)
        except (ValueError, UnrecordedSpoolError) as exc:
            print(f"braze-sync-ledger: {exc}", file=sys.stderr)
            return 1
        print(
            f"sync {args.sync_key!r} is now {args.new_key!r} ({state.users:,} users, {sum(state.keys.values()):,} "
            f"event keys, {state.runs:,} runs); the next task to run it under that key becomes its owner"
        )
        return 0
    if args.command == "release":
        store.release_owner(args.sync_key)
        print(f"sync {args.sync_key!r} has no owner now (was {state.owner}); the next task to run it becomes its owner")
        return 0
    if args.command == "settle":
        try:
            settled = store.settle_unknown(args.sync_key, delivered=args.delivered)
        except UnrecordedSpoolError as exc:
            print(
                f"braze-sync-ledger: not settled: {exc}. It holds outcomes Braze answered that the sync ledger could "
                "not record; settling before they are recorded could send delivered rows again. Let the export "
                f"finish, or fix the file and run `braze-sync-ledger replay FILE`, then settle.",
                file=sys.stderr,
            )
            return 1
        outcome = "counted as delivered" if args.delivered else "forgotten; the next run sends them"
        print(f"{settled:,} rows of unknown outcome in {args.sync_key!r} {outcome}")
        return 0
    if not args.yes:
        parser.error(
            f"reset forgets every fingerprint and event key of {args.sync_key!r}: its next run rewrites every "
            "attribute and sends every event and purchase again. Add --yes to confirm."
        )
    store.reset(args.sync_key)
    print(
        f"forgot sync {args.sync_key!r}: {state.users:,} users, {sum(state.keys.values()):,} event keys, "
        f"{state.runs:,} runs"
    )
    return 0


def _unrecorded(sync_key: str, *, rows: bool) -> int:
    """Print a sync's unrecorded spools on this machine: one JSON line per file, or per row with ``rows``."""
    from airflow_provider_braze.state.unrecorded_spool import read_spool, spool_files

    paths = spool_files(sync_key)
    if not paths:
        print(f"braze-sync-ledger: no unrecorded spool of {sync_key!r} on this machine", file=sys.stderr)
        return 0
    for path in paths:
        spool = read_spool(path)
        h = spool.header
        if not rows:
            about = {"file": str(path), "run_id": h.run_id, "run": h.run, "attempt": h.attempt, "store": h.store}
            print(json.dumps({**about, "cause": h.cause, "created_at": h.created_at, **spool.counts()}))
            continue
        for o in spool.outcomes:
            key = None if o.key is None else o.key.hex()
            print(json.dumps({"file": str(path), "row": o.row, "outcome": o.outcome, "item": o.item.hex(), "key": key}))
    return 0


def _replay(store: SyncLedgerStore, file: str) -> int:
    """Record one spool file into the store (a spool brought from another machine, say), then remove it."""
    from pathlib import Path

    from airflow_provider_braze.state.unrecorded_replay import OTHER_STORE, replay_file

    result = replay_file(store, Path(file))
    if result.status == OTHER_STORE:
        print(
            f"braze-sync-ledger: {file} was written for another state store (its keys are salted by that one): "
            "choose that store with --state-conn-id or --state-url-env",
            file=sys.stderr,
        )
        return 1
    counts = ", ".join(f"{n:,} {kind}" for kind, n in result.counts.items() if n) or "no outcomes"
    print(f"{file}: {result.status} ({counts}); removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
