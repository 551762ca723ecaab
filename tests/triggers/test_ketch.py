"""KetchPreferenceChangeTrigger: serialisation, deferral outcomes, asset watching, and a free event loop."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from types import SimpleNamespace

import pytest
from airflow.sdk import Asset, AssetWatcher
from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_braze.state import KetchEventStore
from airflow_provider_braze.triggers.ketch import KetchPreferenceChangeTrigger
from tests.helpers.ketch import record
from tests.helpers.ketch_payloads import consent_request, control_request, delete_request, topic_request
from tests.helpers.secrets import TEST_KETCH_TOKEN

CLASSPATH = "airflow_provider_braze.triggers.ketch.KetchPreferenceChangeTrigger"


def trigger_for(seconds: float | None = 10.0, **kwargs) -> KetchPreferenceChangeTrigger:
    end_time = None if seconds is None else time.time() + seconds
    return KetchPreferenceChangeTrigger(end_time=end_time, poll_interval=kwargs.pop("poll_interval", 0.05), **kwargs)


async def run_trigger(trigger: KetchPreferenceChangeTrigger) -> list[TriggerEvent]:
    return [event async for event in trigger.run()]


async def next_event(events, timeout: float = 5.0) -> TriggerEvent:
    return await asyncio.wait_for(anext(events), timeout)


def import_string(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


# --- serialisation ---------------------------------------------------------------------------------------------


def test_serialize_round_trips_with_json_only_kwargs():
    trigger = KetchPreferenceChangeTrigger(
        ketch_conn_id="ketch_eu", after_id=41, min_changes=10, poll_interval=30, end_time=1_800_000_000.5
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs == {
        "ketch_conn_id": "ketch_eu",
        "after_id": 41,
        "min_changes": 10,
        "poll_interval": 30.0,
        "end_time": 1_800_000_000.5,
    }
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert import_string(classpath)(**kwargs).serialize() == (classpath, kwargs)


def test_defaults_serialize_without_a_deadline():
    assert KetchPreferenceChangeTrigger().serialize()[1] == {
        "ketch_conn_id": "ketch_default",
        "after_id": None,
        "min_changes": 1,
        "poll_interval": 60.0,
        "end_time": None,
    }


@pytest.mark.parametrize(("kwargs", "message"), [({"min_changes": 0}, "min_changes"), ({"poll_interval": 0}, "poll")])
def test_invalid_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KetchPreferenceChangeTrigger(**kwargs)


def test_it_can_watch_an_asset():
    trigger = KetchPreferenceChangeTrigger(min_changes=5)
    asset = Asset("ketch://axonic/preferences", watchers=[AssetWatcher(name="ketch_changes", trigger=trigger)])
    assert isinstance(trigger, BaseEventTrigger)
    assert asset.watchers[0].trigger is trigger


# --- deferral: one event, then the trigger ends ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_yields_the_unsynced_range_once_there_are_enough_changes(ketch_conn, store):
    # Consent and rights requests are stored too, but no sync consumes them: they do not count.
    first, _, _, last = record(store, topic_request(), consent_request(), delete_request(), control_request())
    (event,) = await run_trigger(trigger_for(min_changes=2))
    assert event.payload == {"status": "changes", "first_id": first, "last_id": last, "count": 2}


@pytest.mark.asyncio
async def test_waits_for_changes_that_arrive_later(ketch_conn, store):
    (first,) = record(store, topic_request())
    trigger = trigger_for(min_changes=2)
    waiting = asyncio.ensure_future(run_trigger(trigger))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    (second,) = await asyncio.to_thread(record, store, control_request())
    (event,) = await asyncio.wait_for(waiting, 5)
    assert event.payload == {"status": "changes", "first_id": first, "last_id": second, "count": 2}


@pytest.mark.asyncio
async def test_counts_only_changes_after_after_id(ketch_conn, store):
    old, new = record(store, topic_request(), topic_request())
    (event,) = await run_trigger(trigger_for(after_id=old))
    assert event.payload == {"status": "changes", "first_id": new, "last_id": new, "count": 1}


@pytest.mark.asyncio
async def test_synced_changes_do_not_count(ketch_conn, store):
    ids = record(store, topic_request(), topic_request())
    store.settle("run-1", synced=ids)
    (event,) = await run_trigger(trigger_for(seconds=0.2))
    assert event.payload["status"] == "timeout"


@pytest.mark.asyncio
async def test_times_out_at_the_wall_clock_deadline(ketch_conn, store):
    (only,) = record(store, topic_request())
    began = time.monotonic()
    (event,) = await run_trigger(trigger_for(seconds=0.3, min_changes=3))
    assert 0.25 <= time.monotonic() - began < 3
    assert event.payload["status"] == "timeout"
    assert {k: event.payload[k] for k in ("first_id", "last_id", "count")} == {
        "first_id": only,
        "last_id": only,
        "count": 1,
    }
    assert "3 Ketch preference change(s)" in event.payload["message"]


@pytest.mark.asyncio
async def test_a_deadline_already_past_still_reports_what_is_there(ketch_conn, store):
    record(store, topic_request())
    (event,) = await run_trigger(trigger_for(seconds=-1))
    assert event.payload["status"] == "changes"


@pytest.mark.asyncio
async def test_a_missing_connection_becomes_an_error_event(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_KETCH_MISSING", raising=False)
    (event,) = await run_trigger(trigger_for(ketch_conn_id="ketch_missing"))
    assert event.payload["status"] == "error"
    assert "ketch_missing" in event.payload["message"]


@pytest.mark.asyncio
async def test_error_events_carry_no_secrets(ketch_conn):
    url = "postgresql+psycopg://ketch:db-pass-4f1e9a@127.0.0.1:1/state?connect_timeout=2"
    ketch_conn(extra={"state_url": url})
    (event,) = await run_trigger(trigger_for())
    assert event.payload["status"] == "error" and "StateStoreError" in event.payload["message"]
    assert ": unreachable (" in event.payload["message"]
    assert "db-pass-4f1e9a" not in event.payload["message"] and TEST_KETCH_TOKEN not in event.payload["message"]


@pytest.mark.asyncio
async def test_a_deferred_task_gets_one_event_even_without_a_deadline(ketch_conn, store):
    record(store, topic_request())
    trigger = trigger_for(seconds=None)
    trigger.task_instance = SimpleNamespace(task_id="wait_for_changes")  # what the triggerer sets for a deferral
    events = await asyncio.wait_for(run_trigger(trigger), 5)
    assert [e.payload["status"] for e in events] == ["changes"]


# --- asset watcher: keeps watching, one event per new batch -------------------------------------------------------


@pytest.mark.asyncio
async def test_as_an_asset_watcher_it_fires_again_only_for_newer_changes(ketch_conn, store):
    (first,) = record(store, topic_request())
    trigger = trigger_for(seconds=None)
    assert trigger.watching
    events = trigger.run()
    try:
        assert (await next_event(events)).payload == {
            "status": "changes",
            "first_id": first,
            "last_id": first,
            "count": 1,
        }
        pending = asyncio.ensure_future(next_event(events))
        await asyncio.sleep(0.2)
        assert not pending.done()  # the first change is still unsynced, but was announced already
        (second,) = await asyncio.to_thread(record, store, control_request())
        assert (await pending).payload == {"status": "changes", "first_id": second, "last_id": second, "count": 1}
    finally:
        await events.aclose()


@pytest.mark.asyncio
async def test_as_an_asset_watcher_errors_are_retried_not_announced(monkeypatch, state_url, store):
    monkeypatch.delenv("AIRFLOW_CONN_KETCH_DEFAULT", raising=False)
    events = trigger_for(seconds=None).run()
    try:
        pending = asyncio.ensure_future(next_event(events))
        await asyncio.sleep(0.2)
        assert not pending.done()
        from tests.helpers.ketch import set_ketch_connection

        set_ketch_connection(monkeypatch, extra={"state_url": state_url})
        (only,) = await asyncio.to_thread(record, store, topic_request())
        assert (await pending).payload["first_id"] == only
    finally:
        await events.aclose()


# --- the event loop stays free ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_event_loop_keeps_running_while_the_store_is_slow(ketch_conn, store, monkeypatch):
    record(store, topic_request())
    original = KetchEventStore.unsynced_range

    def slow_unsynced_range(self, after_id=None):
        time.sleep(0.4)  # a slow database: this must happen off the event loop
        return original(self, after_id)

    monkeypatch.setattr(KetchEventStore, "unsynced_range", slow_unsynced_range)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.ensure_future(ticker())
    try:
        (event,) = await run_trigger(trigger_for())
    finally:
        ticking.cancel()
    assert event.payload["status"] == "changes"
    assert ticks >= 20  # about 40 if the loop was free during the 0.4 s query; 0 if it was blocked
