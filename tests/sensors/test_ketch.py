"""KetchPreferenceChangeSensor in poke, reschedule and deferrable modes, against a SQLite state store."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from airflow_provider_braze.sensors.ketch import KetchPreferenceChangeSensor
from airflow_provider_braze.triggers.ketch import KetchPreferenceChangeTrigger
from tests.helpers.ketch import record
from tests.helpers.ketch_payloads import consent_request, control_request, topic_request

RANGE_KEYS = {"first_id", "last_id", "count"}


class FakeTaskInstance:
    def get_first_reschedule_date(self, context: Any) -> None:
        return None


@pytest.fixture
def context() -> dict[str, Any]:
    return {"ti": FakeTaskInstance()}


def sensor(**kwargs) -> KetchPreferenceChangeSensor:
    kwargs.setdefault("poke_interval", 0.05)
    kwargs.setdefault("timeout", 10)
    return KetchPreferenceChangeSensor(task_id="wait_for_ketch", **kwargs)


def test_templated_fields_are_kept_verbatim():
    s = KetchPreferenceChangeSensor(
        task_id="t", ketch_conn_id="{{ params.conn }}", min_changes="{{ params.n }}", after_id="{{ params.after }}"
    )
    assert s.template_fields == ("ketch_conn_id", "min_changes", "after_id")
    assert (s.ketch_conn_id, s.min_changes, s.after_id) == ("{{ params.conn }}", "{{ params.n }}", "{{ params.after }}")


def poked(result: PokeReturnValue) -> tuple[bool, dict]:
    assert isinstance(result, PokeReturnValue)
    return result.is_done, result.xcom_value


def test_poke_is_not_done_without_changes(ketch_conn, context):
    assert poked(sensor().poke(context)) == (False, {"first_id": None, "last_id": None, "count": 0})


def test_poke_returns_the_unsynced_range_once_there_are_enough(ketch_conn, store, context):
    first, _, last = record(store, topic_request(), consent_request(), control_request())
    s = sensor(min_changes=2)
    assert poked(s.poke(context)) == (True, {"first_id": first, "last_id": last, "count": 2})


def test_rendered_template_strings_are_read_as_numbers(ketch_conn, store, context):
    old, new = record(store, topic_request(), topic_request())
    assert poked(sensor(min_changes="1", after_id=str(old)).poke(context)) == (
        True,
        {"first_id": new, "last_id": new, "count": 1},
    )
    assert sensor(min_changes="3", after_id="").poke(context).is_done is False


def test_poke_mode_returns_only_the_range_as_its_xcom(ketch_conn, store, context):
    (only,) = record(store, topic_request())
    value = sensor(mode="poke").execute(context)
    assert value == {"first_id": only, "last_id": only, "count": 1}
    assert set(value) == RANGE_KEYS


def test_poke_mode_waits_for_changes_that_arrive_later(ketch_conn, store, context):
    import threading

    later = threading.Timer(0.2, record, (store, topic_request()))
    later.start()
    began = time.monotonic()
    try:
        value = sensor(mode="poke").execute(context)
    finally:
        later.join()
    assert value["count"] == 1 and time.monotonic() - began >= 0.15


def test_poke_mode_times_out(ketch_conn, context):
    with pytest.raises(AirflowSensorTimeout):
        sensor(timeout=0.2).execute(context)


def test_soft_fail_skips_on_timeout(ketch_conn, context):
    with pytest.raises(AirflowSkipException):
        sensor(timeout=0.2, soft_fail=True).execute(context)


def test_reschedule_mode_releases_the_slot_until_there_are_changes(ketch_conn, store, context):
    s = sensor(mode="reschedule")
    with pytest.raises(AirflowRescheduleException):
        s.execute(context)
    (only,) = record(store, topic_request())
    assert s.execute(context) == {"first_id": only, "last_id": only, "count": 1}


# --- deferrable --------------------------------------------------------------------------------------------


def test_deferrable_pokes_once_then_defers_to_the_trigger_with_a_wall_clock_deadline(ketch_conn, store, context):
    (old,) = record(store, topic_request())
    before = time.time()
    s = sensor(deferrable=True, min_changes="2", after_id=old, timeout=120, poke_interval=0.05)
    with pytest.raises(TaskDeferred) as deferred:
        s.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, KetchPreferenceChangeTrigger)
    assert (deferred.value.method_name, deferred.value.timeout) == ("execute_complete", None)
    _, kwargs = trigger.serialize()
    assert {k: kwargs[k] for k in ("ketch_conn_id", "after_id", "min_changes", "poll_interval")} == {
        "ketch_conn_id": "ketch_default",
        "after_id": old,
        "min_changes": 2,
        "poll_interval": 0.05,
    }
    assert before + 120 <= kwargs["end_time"] <= time.time() + 120

    first, last = record(store, topic_request(), control_request())
    (fired,) = asyncio.run(_collect(trigger))
    assert s.execute_complete(context, fired.payload) == {"first_id": first, "last_id": last, "count": 2}


async def _collect(trigger):
    return [e async for e in trigger.run()]


def test_deferrable_returns_at_once_when_there_are_already_enough(ketch_conn, store, context):
    (only,) = record(store, topic_request())
    assert sensor(deferrable=True).execute(context) == {"first_id": only, "last_id": only, "count": 1}


def test_execute_complete_returns_only_the_range(context):
    event = {"status": "changes", "first_id": 3, "last_id": 9, "count": 5}
    assert sensor().execute_complete(context, event) == {"first_id": 3, "last_id": 9, "count": 5}


@pytest.mark.parametrize(
    ("event", "raised"),
    [
        ({"status": "timeout", "first_id": None, "last_id": None, "count": 0, "message": "late"}, AirflowSensorTimeout),
        ({"status": "error", "message": "store down"}, AirflowException),
        (None, AirflowException),
        ({"status": "odd"}, AirflowException),
    ],
)
def test_execute_complete_raises_on_timeout_or_error(context, event, raised):
    with pytest.raises(raised):
        sensor().execute_complete(context, event)


@pytest.mark.parametrize("status", ["timeout", "error"])
def test_execute_complete_skips_with_soft_fail(context, status):
    with pytest.raises(AirflowSkipException):
        sensor(soft_fail=True).execute_complete(context, {"status": status, "message": "x"})
