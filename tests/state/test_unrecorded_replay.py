"""Replaying a spool into the store: delivered keys become accepted, released ones are forgotten, once, safely."""

from __future__ import annotations

import hashlib

import pytest

from airflow_provider_braze.state import StateStoreError
from airflow_provider_braze.state.errors import describe_store
from airflow_provider_braze.state.sync_ledger import BatchRecord, SyncLedgerStore
from airflow_provider_braze.state.unrecorded_replay import replay_file, replay_sync
from airflow_provider_braze.state.unrecorded_spool import (
    ACCEPTED,
    REJECTED,
    RELEASED,
    SpoolBusy,
    SpooledOutcome,
    SpoolHeader,
    SpoolWriter,
    UnrecordedSpoolError,
    spool_files,
    store_id,
)

SYNC = "dag.events"


@pytest.fixture
def ledger(state_url):
    store = SyncLedgerStore(state_url)
    yield store
    store.dispose()


@pytest.fixture
def roots(tmp_path):
    return [tmp_path / "spools"]


def key(n: int) -> bytes:
    return hashlib.blake2b(n.to_bytes(8, "big"), digest_size=16).digest()


def open_run(ledger, run_id="r1", mode="events"):
    return ledger.open_run(SYNC, endpoint="users/track", mode=mode, run_id=run_id)


def spool(ledger, run, roots, outcomes, *, keep_open=False) -> SpoolWriter:
    """The spool an attempt of ``run`` writes when the store fails."""
    header = SpoolHeader(SYNC, run.sync_id, run.run, run.attempt, describe_store(ledger.engine.url), store_id(run.salt))
    writer = SpoolWriter(header, roots)
    writer.add(outcomes, "disk full")
    if not keep_open:
        writer.close()
    return writer


def event(n: int, outcome: str = ACCEPTED) -> SpooledOutcome:
    return SpooledOutcome(outcome, key(n), str(n), key(n), at=1.0)


def statuses(ledger, run, keys):
    return {k: s for k, (s, _) in ledger.keys(run.sync_id, keys).items()}


def test_accepted_keys_become_accepted_and_released_ones_are_forgotten(ledger, roots):
    run = open_run(ledger)
    ledger.write_intents(run, [(key(i), str(i)) for i in range(4)])
    writer = spool(ledger, run, roots, [event(0), event(1), event(2, RELEASED), event(3, REJECTED), event(9)])

    (done,) = replay_sync(ledger, SYNC, roots)

    assert done.status == "replayed" and done.counts == {"accepted": 3, "rejected": 1, "released": 1}
    # Key 9 had no intent left (settled by hand, say): it is accepted all the same.
    assert statuses(ledger, run, [key(i) for i in (0, 1, 2, 3, 9)]) == {
        key(0): "accepted",
        key(1): "accepted",
        key(9): "accepted",
    }
    assert ledger.state(SYNC).open_problems == {"failed": 1, "rejected": 1}
    assert not writer.path.exists()


def test_a_released_key_accepted_since_is_kept(ledger, roots):
    run = open_run(ledger)
    ledger.write_intents(run, [(key(1), "1")])
    spool(ledger, run, roots, [event(1, RELEASED)])
    ledger.record(run, BatchRecord(accepted_keys=[key(1)]))  # a later attempt elsewhere had it accepted

    replay_sync(ledger, SYNC, roots)
    assert statuses(ledger, run, [key(1)]) == {key(1): "accepted"}


def test_an_attribute_row_is_written_unless_the_store_holds_a_later_answer(ledger, roots):
    run = open_run(ledger, mode="attributes")
    old, new = b"o" * 16, b"n" * 16
    late = SpooledOutcome(ACCEPTED, b"u" * 16, "1", None, old, b"\x80", 2, at=1.0)
    fresh = SpooledOutcome(ACCEPTED, b"v" * 16, "2", None, old, b"\x80", 2, at=1.0)
    spool(ledger, run, roots, [late, fresh])
    ledger.record(run, BatchRecord(users=[(b"u" * 16, new, b"\x80", 2)]))  # recorded later than the spool's answer

    replay_sync(ledger, SYNC, roots)
    found = ledger.users(run.sync_id, [b"u" * 16, b"v" * 16])
    assert found[b"u" * 16][0] == new and found[b"v" * 16][0] == old


def test_replaying_twice_applies_once(ledger, roots, tmp_path):
    run = open_run(ledger)
    writer = spool(ledger, run, roots, [event(1, REJECTED)])
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(writer.path.read_bytes())  # as if the file came back after a crash before its removal

    assert replay_sync(ledger, SYNC, roots)[0].status == "replayed"
    assert replay_file(ledger, copy).status == "already replayed"
    assert ledger.state(SYNC).open_problems == {"rejected": 1} and not copy.exists()


def test_a_store_failure_during_replay_leaves_the_file(ledger, roots, monkeypatch):
    run = open_run(ledger)
    writer = spool(ledger, run, roots, [event(1)])

    def failing(*args, **kwargs):
        raise StateStoreError("state.db", "disk full", "database or disk is full")

    monkeypatch.setattr("airflow_provider_braze.state.unrecorded_replay._apply_outcomes", failing)
    with pytest.raises(StateStoreError):
        replay_sync(ledger, SYNC, roots)
    monkeypatch.undo()

    assert writer.path.exists()
    assert replay_sync(ledger, SYNC, roots)[0].status == "replayed"


def test_a_spool_still_being_written_is_not_taken(ledger, roots):
    run = open_run(ledger)
    writer = spool(ledger, run, roots, [event(1)], keep_open=True)
    with pytest.raises(SpoolBusy, match="in use by a running export"):
        replay_sync(ledger, SYNC, roots)
    assert replay_sync(ledger, SYNC, roots, skip_busy=True) == []
    writer.close()
    assert replay_sync(ledger, SYNC, roots)[0].status == "replayed"


def test_a_spool_of_another_store_is_left_alone(ledger, roots, tmp_path):
    other = SyncLedgerStore(f"sqlite:///{tmp_path / 'other.db'}")
    writer = spool(other, open_run(other), roots, [event(1)])
    other.dispose()
    open_run(ledger)

    assert replay_sync(ledger, SYNC, roots)[0].status == "other store"
    assert writer.path.exists()


def test_a_spool_of_a_sync_reset_since_is_removed(ledger, roots):
    writer = spool(ledger, open_run(ledger), roots, [event(1)])
    ledger.reset(SYNC)
    open_run(ledger)

    assert replay_sync(ledger, SYNC, roots)[0].status == "obsolete"
    assert not writer.path.exists()


def test_settling_not_delivered_records_the_spool_first(ledger, roots):
    run = open_run(ledger)
    ledger.write_intents(run, [(key(i), str(i)) for i in range(3)])
    ledger.record(run, BatchRecord(unknown_keys=[key(2)]))  # a true unknown
    spool(ledger, run, roots, [event(0), event(1)])  # delivered, left 'sending' by the failed store

    settled = ledger.settle_unknown(SYNC, delivered=False, spool_roots=roots)

    assert settled == 1  # only the true unknown is forgotten
    assert statuses(ledger, run, [key(i) for i in range(3)]) == {key(0): "accepted", key(1): "accepted"}


def test_settling_refuses_while_a_spool_cannot_be_read(ledger, roots):
    run = open_run(ledger)
    ledger.write_intents(run, [(key(1), "1")])
    writer = spool(ledger, run, roots, [event(1)])
    writer.path.write_text("damaged\n")

    with pytest.raises(UnrecordedSpoolError, match=str(writer.path)):
        ledger.settle_unknown(SYNC, delivered=False, spool_roots=roots)
    assert statuses(ledger, run, [key(1)]) == {key(1): "sending"}  # nothing settled
    assert spool_files(SYNC, roots) == [writer.path]


def test_renaming_a_sync_records_its_spools_first(ledger, roots):
    run = open_run(ledger)
    ledger.write_intents(run, [(key(1), "1")])
    writer = spool(ledger, run, roots, [event(1)])  # filed under the old key

    assert ledger.rename(SYNC, "dag.renamed", spool_roots=roots)
    assert statuses(ledger, run, [key(1)]) == {key(1): "accepted"} and not writer.path.exists()
