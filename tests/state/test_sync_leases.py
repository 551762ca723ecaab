"""Runs of one sync take turns: leases per sync and scope, waiting, taking over, expiring."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_braze.state import sync_leases
from airflow_provider_braze.state.sync_leases import SyncBusyError, scopes_overlap
from airflow_provider_braze.state.sync_ledger import SyncLedgerStore


class Clock:
    """A clock the test moves; waiting advances it instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ledger(state_url, clock):
    store = SyncLedgerStore(state_url, clock=clock)
    yield store
    store.dispose()


def open_run(ledger, run_id, **kwargs):
    return ledger.open_run("dag.task", endpoint="users/track", mode="events", run_id=run_id, **kwargs)


def take(ledger, run, clock, scope="", timeout=10.0, holder=None):
    return sync_leases.wait_for_lease(
        ledger.engine,
        sync_key="dag.task",
        sync_id=run.sync_id,
        scope=scope,
        run=run.run,
        holder=holder or f"run {run.run}",
        timeout=timeout,
        clock=clock,
        sleep=clock.sleep,
    )


def test_the_whole_sync_overlaps_every_partition_and_partitions_of_one_count_only_themselves():
    assert scopes_overlap("", "1/4") and scopes_overlap("2/4", "") and scopes_overlap("", "")
    assert scopes_overlap("1/4", "1/4") and not scopes_overlap("1/4", "2/4")
    assert scopes_overlap("1/4", "1/2")  # another split: the same user may fall in both


def test_a_second_run_waits_for_the_holder_then_fails_naming_it(ledger, clock, caplog):
    first, second = open_run(ledger, "scheduled__2024-01-06"), open_run(ledger, "backfill__2024-01-01")
    lease = take(ledger, first, clock, holder="dag.task of run 'scheduled__2024-01-06', try 1, on host-a (pid 7)")
    with caplog.at_level(logging.INFO), pytest.raises(SyncBusyError) as raised:
        take(ledger, second, clock, timeout=45.0)
    message = str(raised.value)
    assert "dag.task of run 'scheduled__2024-01-06', try 1, on host-a (pid 7)" in message
    assert "Waited 45 s (sync_lease_timeout=45)" in message
    assert "Waiting for it" in caplog.text  # the wait is logged while it lasts
    lease.release()


def test_a_released_lease_is_taken_by_the_next_run(ledger, clock):
    first, second = open_run(ledger, "r1"), open_run(ledger, "r2")
    take(ledger, first, clock).release()
    take(ledger, second, clock).release()


def test_a_retried_attempt_takes_over_its_own_runs_lease_at_once(ledger, clock):
    first = open_run(ledger, "r1")
    take(ledger, first, clock).stop_renewing()  # the attempt died holding it (never released)
    retry = open_run(ledger, "r1")
    assert retry.run == first.run
    started = clock.now
    take(ledger, retry, clock).release()
    assert clock.now == started  # no wait


def test_a_dead_workers_lease_is_free_once_it_expires(ledger, clock):
    first, second = open_run(ledger, "r1"), open_run(ledger, "r2")
    take(ledger, first, clock).stop_renewing()  # its worker died
    started = clock.now
    take(ledger, second, clock, timeout=sync_leases.LEASE_TTL + 10).release()
    assert sync_leases.LEASE_TTL <= clock.now - started <= sync_leases.LEASE_TTL + sync_leases.POLL_EVERY


def test_partitions_of_one_count_hold_leases_side_by_side_and_a_whole_run_waits_for_them(ledger, clock):
    runs = [open_run(ledger, "r1", map_index=i, partition=f"{i}/2") for i in range(2)]
    leases = [take(ledger, run, clock, scope=f"{i}/2") for i, run in enumerate(runs)]
    whole = open_run(ledger, "manual")
    with pytest.raises(SyncBusyError, match="holding partition 0/2"):
        take(ledger, whole, clock, timeout=5.0)
    for lease in leases:
        lease.release()
    take(ledger, whole, clock).release()


def test_a_renewed_lease_is_not_taken_and_a_lease_taken_over_is_reported_lost(ledger, clock):
    first, second = open_run(ledger, "r1"), open_run(ledger, "r2")
    lease = take(ledger, first, clock)
    clock.now += sync_leases.LEASE_TTL - 1
    assert lease.renew()
    clock.now += sync_leases.LEASE_TTL - 1
    with pytest.raises(SyncBusyError):
        take(ledger, second, clock, timeout=0.5)
    clock.now += sync_leases.LEASE_TTL + 1  # renewals stopped (a paused worker): another run takes it
    take(ledger, second, clock).release()
    assert lease.renew() is False
    lease.stop_renewing()


def test_newer_runs_are_those_of_a_later_logical_date(ledger):
    day = 86_400.0
    runs = {d: open_run(ledger, f"r{d}", as_of=d * day) for d in (3, 1, 6, 2)}
    undated = open_run(ledger, "manual")
    assert ledger.newer_runs(runs[2]) == {runs[3].run, runs[6].run}
    assert ledger.newer_runs(runs[6]) == frozenset()
    assert ledger.newer_runs(undated) == frozenset()  # no date: nothing to order by
