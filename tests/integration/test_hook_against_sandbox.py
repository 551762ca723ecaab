"""BrazeHook end to end against the Braze sandbox: faults, rate limits, partial failures."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter

import pytest

from airflow_provider_braze.braze.errors import BrazeBadRequestError, BrazePayloadTooLargeError
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.hooks.braze import BrazeHook
from tests.helpers.secrets import TEST_API_KEY, TRACK_ONLY_KEY


def attribute_items(n: int) -> list[Item]:
    return [Item("attributes", {"external_id": f"user-{i}", "tier": "gold", "seq": i}, ref=i) for i in range(n)]


def statuses(results) -> Counter:
    return Counter(o.status for r in results for o in r.outcomes)


def test_attribute_updates_survive_5xx_and_429_storms_applied_exactly_once(sandbox, braze_conn):
    sandbox.faults.update(error_rate=0.2, rate_limit_storm=0.1, rate_limit_storm_reset=1.0)
    results = list(BrazeHook(concurrency=4).send("users/track", attribute_items(1500)))

    assert statuses(results) == Counter({"accepted": 1500})
    users = {u.external_id: u for u in sandbox.store.users()}
    assert len(users) == 1500
    assert {u.attribute_objects_applied for u in users.values()} == {1}
    assert all(users[f"user-{i}"].custom_attributes["seq"] == i for i in range(1500))
    # The faults really fired, and every failed request was retried.
    codes = Counter(r.status for r in sandbox.requests.records(endpoint="users/track"))
    assert codes[429] > 0 and sum(codes[c] for c in (500, 502, 503)) > 0
    assert codes[201] == 20


def test_retries_after_429_wait_until_x_ratelimit_reset(sandbox, braze_conn):
    sandbox.faults.update(rate_limit_storm=0.3, rate_limit_storm_reset=1.0)
    list(BrazeHook(concurrency=1).send("users/track", attribute_items(600)))

    log = sandbox.requests.records(endpoint="users/track")
    storms = [(i, r) for i, r in enumerate(log) if r.status == 429]
    assert len(storms) >= 2
    for i, record in storms:
        reset = math.ceil(record.received_at + 1.0)
        # One request at a time: the next one may only arrive once the window has reset.
        assert log[i + 1].received_at >= reset, (record, log[i + 1])


def test_partial_failure_maps_back_to_the_objects_at_fault(sandbox, braze_conn):
    items = attribute_items(10)
    items[3] = Item("attributes", {"tier": "gold"}, ref=3)  # no identifier
    items[7] = Item("attributes", {"external_id": "user-7", "bio": "x" * 300}, ref=7)  # over 255 characters
    results = list(BrazeHook().send("users/track", items))

    outcomes = {o.item.ref: o for r in results for o in r.outcomes}
    assert {ref for ref, o in outcomes.items() if o.status == "rejected"} == {3, 7}
    assert "'external_id' or 'braze_id' or 'user_alias' is required" in outcomes[3].reason
    assert sorted(u.external_id for u in sandbox.store.users()) == sorted(
        f"user-{i}" for i in range(10) if i not in (3, 7)
    )


def test_events_that_time_out_after_processing_are_not_sent_twice(sandbox, braze_conn):
    braze_conn(timeout=1, max_attempts=3)
    sandbox.faults.update(processed_then_timeout_rate=1.0, timeout_seconds=1.5)
    events = [
        Item("events", {"external_id": "u1", "name": "purchase_page", "time": "2026-11-01T00:00:00Z"}, ref=i)
        for i in range(5)
    ]
    results = list(BrazeHook().send("users/track", events))

    assert statuses(results) == Counter({"unknown": 5})
    assert len(sandbox.store.events(external_id="u1")) == 5  # applied once, never resent
    assert len(sandbox.requests.records(endpoint="users/track")) == 1


def test_sandbox_refuses_76_attributes_with_max_input_length_exceeded(sandbox, braze_conn):
    body = {"attributes": [{"external_id": f"u{i}"} for i in range(76)]}
    with pytest.raises(BrazeBadRequestError) as info:
        BrazeHook().call("users/track", json=body)
    assert info.value.message == "Max Input Length Exceeded"
    assert sandbox.store.users() == []


def test_sandbox_refuses_a_body_over_4_mb_with_413(sandbox, braze_conn):
    body = {"attributes": [{"external_id": "u1", "blob": "x" * 4_100_000}]}
    with pytest.raises(BrazePayloadTooLargeError):
        BrazeHook().call("users/track", json=body)
    assert sandbox.store.users() == []


def run_airflow(*args: str, conn_password: str, sandbox_url: str, tmp_path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW_CONN_BRAZE_DEFAULT": json.dumps(
            {"conn_type": "braze", "host": sandbox_url, "password": conn_password}
        ),
    }
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_airflow_connections_test_succeeds_against_the_sandbox(sandbox, tmp_path):
    done = run_airflow(
        "connections", "test", "braze_default", conn_password=TEST_API_KEY, sandbox_url=sandbox.url, tmp_path=tmp_path
    )
    assert "Connection success!" in done.stdout, done.stdout + done.stderr
    assert TEST_API_KEY not in done.stdout + done.stderr


def test_airflow_connections_test_explains_a_wrong_key(sandbox, tmp_path):
    done = run_airflow(
        "connections", "test", "braze_default", conn_password="wrong-key", sandbox_url=sandbox.url, tmp_path=tmp_path
    )
    out = done.stdout + done.stderr
    assert "Connection failed" in out and "HTTP 401" in out


def test_connection_test_names_a_missing_permission(sandbox, braze_conn):
    braze_conn(password=TRACK_ONLY_KEY, test_endpoint="users/delete")
    ok, message = BrazeHook().test_connection()
    assert not ok and "'users.delete'" in message
