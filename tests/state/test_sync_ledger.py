"""The sync ledger's store: runs and attempts, lookups, batch records, problems, reset, settling."""

from __future__ import annotations

import hashlib
import threading

import pytest
from sqlalchemy import event

from airflow_provider_braze.state import sync_ledger_lookups
from airflow_provider_braze.state.engine import write_transaction
from airflow_provider_braze.state.sync_ledger import (
    BatchRecord,
    SyncLedgerStore,
    user_key,
)
from tests.helpers.concurrency import run_at_once


@pytest.fixture
def ledger(state_url):
    store = SyncLedgerStore(state_url)
    yield store
    store.dispose()


def key(n: int) -> bytes:
    """A 16-byte digest, as the ledger's keys are."""
    return hashlib.blake2b(n.to_bytes(8, "big"), digest_size=16).digest()


def open_run(ledger, run_id="r1", sync_key="dag.task", mode="events", **kwargs):
    return ledger.open_run(sync_key, endpoint="users/track", mode=mode, run_id=run_id, **kwargs)


def test_attempts_of_one_run_share_it_and_a_new_run_gets_its_own(ledger):
    first = open_run(ledger)
    retry = open_run(ledger)
    later = open_run(ledger, run_id="r2")
    mapped = open_run(ledger, map_index=3)

    assert (first.attempt, retry.attempt) == (1, 2) and first.run == retry.run
    assert len({first.run, later.run, mapped.run}) == 3
    assert first.sync_id == later.sync_id == mapped.sync_id


def test_the_salt_is_made_once_per_store_and_is_not_guessable(ledger, state_url):
    salt = ledger.salt()
    assert len(salt) == 16 and SyncLedgerStore(state_url).salt() == salt


def test_a_sync_key_is_bound_to_its_mode(ledger):
    open_run(ledger, mode="attributes")
    with pytest.raises(ValueError, match="belongs to a sync of attributes to users/track, not events"):
        open_run(ledger, mode="events")


def test_intents_then_outcomes(ledger):
    run = open_run(ledger)
    ledger.write_intents(run, [(key(i), str(i)) for i in range(6)])
    assert {s for s, _ in ledger.keys(run.sync_id, [key(i) for i in range(6)]).values()} == {"sending"}

    ledger.record(run, BatchRecord(accepted_keys=[key(0), key(1)], unknown_keys=[key(2)], released_keys=[key(3)]))
    found = ledger.keys(run.sync_id, [key(i) for i in range(6)])
    assert {k: s for k, (s, _) in found.items()} == {
        key(0): "accepted",
        key(1): "accepted",
        key(2): "unknown",
        key(4): "sending",
        key(5): "sending",
    }


def row(n: int) -> bytes:
    """A source row's 16-byte digest."""
    return hashlib.blake2b(n.to_bytes(8, "big"), digest_size=16, person=b"row").digest()


def test_user_fingerprints_are_upserted(ledger):
    run = open_run(ledger, mode="attributes")
    ledger.record(run, BatchRecord(users=[(key(1), row(1), b"a", 3), (key(2), row(2), b"b", 3)]))
    ledger.record(run, BatchRecord(users=[(key(1), row(3), b"c", 4)]))
    assert ledger.users(run.sync_id, [key(1), key(2), key(3)]) == {
        key(1): (row(3), b"c", run.run),
        key(2): (row(2), b"b", run.run),
    }


def test_a_user_twice_in_one_group_of_batches_keeps_its_last_row(ledger):
    # Batches merged into one transaction can hold a user (or a key) twice; PostgreSQL refuses to
    # update a row twice in one statement, so the last row alone is written.
    run = open_run(ledger, mode="attributes")
    ledger.record(
        run, BatchRecord(users=[(key(1), row(1), b"a", 1), (key(2), row(2), b"b", 1), (key(1), row(3), b"c", 1)])
    )
    ledger.write_intents(run, [(key(5), "1"), (key(5), "2")])
    assert ledger.users(run.sync_id, [key(1), key(2)]) == {
        key(1): (row(3), b"c", run.run),
        key(2): (row(2), b"b", run.run),
    }
    assert ledger.keys_with_status(run.sync_id, ["sending"]) == [(key(5), "sending", "2")]


def test_two_users_whose_keys_collide_never_read_each_others_fingerprints(ledger):
    run = open_run(ledger, mode="attributes")
    first, second = b"\x01" * 8 + b"a" * 8, b"\x01" * 8 + b"b" * 8  # the same 64-bit user key
    ledger.record(run, BatchRecord(users=[(first, row(7), b"first", 1)]))
    assert ledger.users(run.sync_id, [second]) == {}
    ledger.record(run, BatchRecord(users=[(second, row(8), b"second", 1)]))
    # The later write took the row: the first user now reads as never written, so it is sent again.
    assert ledger.users(run.sync_id, [first, second]) == {second: (row(8), b"second", run.run)}


def test_a_source_row_is_settled_only_while_it_is_its_users_last_accepted_row(ledger):
    run = open_run(ledger, mode="attributes")
    ledger.record(run, BatchRecord(users=[(key(1), row(11), b"a", 4), (key(3), row(33), b"c", 2)]))
    assert ledger.settled(run.sync_id, [row(33), row(22), row(11), row(33)]) == {
        row(11): (user_key(key(1)), 4),
        row(33): (user_key(key(3)), 2),
    }
    # User 1's row changed: its old row is nobody's last accepted row any more.
    ledger.record(run, BatchRecord(users=[(key(1), row(12), b"a2", 5)]))
    assert ledger.settled(run.sync_id, [row(11), row(12)]) == {row(12): (user_key(key(1)), 5)}
    assert ledger.settled(run.sync_id, []) == {}


def test_another_syncs_rows_are_never_settled(ledger):
    one, other = open_run(ledger, mode="attributes"), open_run(ledger, sync_key="dag.other", mode="attributes")
    ledger.record(one, BatchRecord(users=[(key(1), row(1), b"a", 1)]))
    assert ledger.settled(other.sync_id, [row(1)]) == {}
    assert ledger.settled(one.sync_id, [row(1)]) == {row(1): (user_key(key(1)), 1)}


def test_the_settled_probe_packs_negative_keys_the_largest_points_and_ignores_digests_of_another_width(ledger):
    run = open_run(ledger, mode="attributes")
    negative = next(key(n) for n in range(100) if user_key(key(n)) < 0)
    ledger.record(run, BatchRecord(users=[(negative, row(1), b"a", 2**31 - 1), (key(1000), row(2), b"b", 0)]))
    assert ledger.settled(run.sync_id, [row(1), row(2), b"short", row(1) + b"x"]) == {
        row(1): (user_key(negative), 2**31 - 1),
        row(2): (user_key(key(1000)), 0),
    }


def test_a_planning_pass_probes_ahead_on_a_helper_thread_and_reads_off_the_writers_connection(ledger, monkeypatch):
    run = open_run(ledger, mode="attributes")
    ledger.record(run, BatchRecord(users=[(key(n), row(n), b"f", 1) for n in range(3_000)]))
    probes: list[tuple[str, object]] = []
    probe_on = sync_ledger_lookups.settled_on

    def spy(engine, sync_id, digests):
        probes.append((threading.current_thread().name, engine))
        return probe_on(engine, sync_id, digests)

    monkeypatch.setattr(sync_ledger_lookups, "settled_on", spy)
    with ledger.reader() as reader:
        # More digests than one statement takes: the probe asks in parts and answers once.
        future = reader.settled_soon(run.sync_id, [row(n) for n in range(3_005)])
        assert future.result(timeout=30) == {row(n): (user_key(key(n)), 1) for n in range(3_000)}
        assert reader.users(run.sync_id, [key(1), key(5_000)]) == {key(1): (row(1), b"f", run.run)}
        if ledger.engine.dialect.name == "sqlite":
            # The store's one connection is held by a writer: the pass's reads do not wait for it.
            with write_transaction(ledger.engine):
                assert reader.users(run.sync_id, [key(2)]) == {key(2): (row(2), b"f", run.run)}
                assert reader.settled_soon(run.sync_id, [row(2)]).result(timeout=5) == {row(2): (user_key(key(2)), 1)}
    assert [name for name, _ in probes] == ["braze-ledger-probe_0"] * len(probes)
    assert all((engine is ledger.engine) == (ledger.engine.dialect.name != "sqlite") for _, engine in probes)


def test_an_in_memory_store_reads_at_once_on_the_calling_thread():
    store = SyncLedgerStore("sqlite://")
    run = open_run(store, mode="attributes")
    store.record(run, BatchRecord(users=[(key(1), row(1), b"a", 3)]))
    with store.reader() as reader:
        future = reader.settled_soon(run.sync_id, [row(1), row(2)])
        assert future.done() and future.result() == {row(1): (user_key(key(1)), 3)}
    store.dispose()


def test_a_file_store_has_its_threads_share_one_connection(tmp_path):
    # Lookups on the main thread keep their page cache while sender threads commit.
    store = SyncLedgerStore(f"sqlite:///{tmp_path / 'state.db'}")
    opened = []
    event.listen(store.engine, "connect", lambda *_: opened.append(1))
    try:
        run = open_run(store, mode="attributes")
        run_at_once(lambda n: store.record(run, BatchRecord(users=[(key(n), row(n), b"v", 1)])), 8)
        assert len(store.users(run.sync_id, [key(n) for n in range(8)])) == 8
        assert len(opened) == 1
    finally:
        store.dispose()


def test_lookups_and_writes_cover_more_keys_than_one_statement_binds(ledger):
    run = open_run(ledger)
    keys = [key(i) for i in range(12_000)]  # 72,000 values to upsert: more than one statement takes
    ledger.write_intents(run, [(k, None) for k in keys])
    assert len(ledger.keys(run.sync_id, keys)) == 12_000
    ledger.record(run, BatchRecord(accepted_keys=keys[:31_000], released_keys=keys[-10:]))
    statuses = ledger.keys(run.sync_id, keys)
    assert len(statuses) == 11_990 and {status for status, _ in statuses.values()} == {"accepted"}


def test_a_later_run_that_gets_a_refused_row_accepted_counts_it_recovered(ledger):
    first = open_run(ledger)
    ledger.record(
        first, BatchRecord(problems=[(key(1), "4", "rejected", None, "bad"), (key(2), "5", "failed", None, "x")])
    )
    # Within the same run a retry that succeeds is not an earlier refusal.
    assert ledger.record(first, BatchRecord(accepted_keys=[key(2)], resolved=[key(2)])).recovered == 0
    second = open_run(ledger, run_id="r2")
    assert second.open_problems == 1
    assert ledger.record(second, BatchRecord(accepted_keys=[key(1)], resolved=[key(1)])).recovered == 1
    assert ledger.state("dag.task").open_problems == {}


def test_reset_forgets_one_sync_only(ledger):
    a = open_run(ledger, sync_key="a")
    b = open_run(ledger, sync_key="b")
    for run in (a, b):
        ledger.write_intents(run, [(key(1), None)])
        ledger.record(run, BatchRecord(accepted_keys=[key(1)], problems=[(key(2), "1", "rejected", None, "no")]))

    assert ledger.reset("a") is True and ledger.reset("a") is False
    assert ledger.state("a") is None
    state = ledger.state("b")
    assert state.keys == {"accepted": 1} and state.open_problems == {"rejected": 1} and state.runs == 1
    assert ledger.sync_keys() == ["b"]


@pytest.mark.parametrize(("delivered", "after"), [(True, {"accepted": 3}), (False, {"accepted": 1})])
def test_settling_unknown_and_interrupted_rows(ledger, delivered, after):
    run = open_run(ledger)
    ledger.write_intents(run, [(key(i), None) for i in range(3)])
    ledger.record(
        run,
        BatchRecord(accepted_keys=[key(0)], unknown_keys=[key(1)], problems=[(key(1), "2", "unknown", None, "504")]),
    )

    assert ledger.settle_unknown("dag.task", delivered=delivered) == 2
    state = ledger.state("dag.task")
    assert state.keys == after and state.open_problems == {}


def test_partitions_of_one_sync_write_at_once(ledger):
    """Four workers open the same sync and record batches concurrently: nothing is lost or refused."""

    def partition(index: int) -> None:
        run = open_run(ledger, map_index=index, partition=f"{index}/4")
        for batch in range(20):
            keys = [key(index * 10_000 + batch * 50 + i) for i in range(50)]
            ledger.write_intents(run, [(k, None) for k in keys])
            ledger.record(run, BatchRecord(accepted_keys=keys))

    run_at_once(partition, 4)
    assert ledger.state("dag.task").keys == {"accepted": 4 * 20 * 50}


def test_attribute_outcomes_commit_without_a_disk_flush_and_event_keys_with_one(ledger, state_url):
    # Losing attribute outcomes to a power cut only resends attributes (safe); a lost event key
    # could send an event twice, so its commit waits for the disk. A process crash loses neither.
    statements: list[str] = []
    event.listen(ledger._engine, "before_cursor_execute", lambda *a: statements.append(a[2].split(" (")[0]))
    run = open_run(ledger, mode="attributes")
    statements.clear()
    ledger.record(run, BatchRecord(users=[(key(1), row(1), b"a", 1)]))
    attributes, statements[:] = list(statements), []
    ledger.record(run, BatchRecord(intents=[(key(2), "7")]))
    events = list(statements)
    if state_url.startswith("sqlite"):
        assert attributes[:2] == ["PRAGMA synchronous = NORMAL", "BEGIN IMMEDIATE"]
        assert events[:2] == ["PRAGMA synchronous = FULL", "BEGIN IMMEDIATE"]
    else:
        assert "SET LOCAL synchronous_commit TO OFF" in attributes
        assert "SET LOCAL synchronous_commit TO OFF" not in events
    assert ledger.users(run.sync_id, [key(1)]) == {key(1): (row(1), b"a", run.run)}


def test_a_key_is_claimed_by_one_run_only(ledger):
    first, second = open_run(ledger, run_id="r1"), open_run(ledger, run_id="r2")
    assert ledger.write_intents(first, [(key(1), "1"), (key(2), "2")]) == frozenset()
    # The second run planned the same keys before the first claimed them: it gets neither.
    assert ledger.write_intents(second, [(key(2), "7"), (key(3), "8")]) == {key(2)}
    assert ledger.keys(first.sync_id, [key(1), key(2), key(3)]) == {
        key(1): ("sending", first.run),
        key(2): ("sending", first.run),
        key(3): ("sending", second.run),
    }


def test_a_run_never_settles_or_releases_a_key_another_run_claimed(ledger):
    first, second = open_run(ledger, run_id="r1"), open_run(ledger, run_id="r2")
    ledger.write_intents(first, [(key(1), "1")])
    ledger.record(second, BatchRecord(released_keys=[key(1)]))
    ledger.record(second, BatchRecord(unknown_keys=[key(1)]))
    assert ledger.keys(first.sync_id, [key(1)]) == {key(1): ("sending", first.run)}


def test_reclaiming_takes_back_unknown_keys_never_accepted_ones(ledger):
    first, second = open_run(ledger, run_id="r1"), open_run(ledger, run_id="r2")
    ledger.write_intents(first, [(key(1), "1"), (key(2), "2")])
    ledger.record(first, BatchRecord(accepted_keys=[key(1)], unknown_keys=[key(2)]))
    assert ledger.write_intents(second, [(key(1), "1"), (key(2), "2")], reclaim=True) == {key(1)}
    assert ledger.keys(first.sync_id, [key(1), key(2)]) == {
        key(1): ("accepted", first.run),
        key(2): ("sending", second.run),
    }


def test_claims_at_once_from_many_runs_give_each_key_to_exactly_one(ledger):
    runs = [open_run(ledger, run_id=f"r{i}") for i in range(4)]
    keys = [(key(n), str(n)) for n in range(300)]
    lost = run_at_once(lambda i: ledger.write_intents(runs[i], keys), len(runs))
    claimed = [{k for k, _ in keys} - unclaimed for unclaimed in lost]
    # Each key went to one run: the others were told it is not theirs.
    assert sum(len(c) for c in claimed) == len(keys) and set().union(*claimed) == {k for k, _ in keys}
