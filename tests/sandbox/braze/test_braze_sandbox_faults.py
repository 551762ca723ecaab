"""Fault injection in the sandbox: each knob, determinism, and steering over HTTP."""

from __future__ import annotations

import time

import pytest
import requests


def _one(i: int | str = 0) -> dict:
    return {"attributes": [{"external_id": f"u{i}"}]}


def test_error_rate_answers_5xx_and_applies_nothing(braze_sandbox, braze):
    braze_sandbox.faults.update(error_rate=1.0, error_statuses=[503])
    response = braze.post("/users/track", _one())
    assert response.status_code == 503
    assert braze_sandbox.store.users() == []
    assert braze_sandbox.requests.records()[-1].faults == ("error",)


def test_error_statuses_default_to_500_502_503(braze_sandbox, braze):
    braze_sandbox.faults.update(error_rate=1.0)
    statuses = {braze.post("/users/track", _one(i)).status_code for i in range(30)}
    assert statuses <= {500, 502, 503} and len(statuses) > 1


def test_same_seed_gives_the_same_faults(braze_sandbox, braze):
    def run() -> list[int]:
        braze_sandbox.reset()  # reseeds the generator
        braze_sandbox.faults.update(error_rate=0.5)
        return [braze.post("/users/track", _one(i)).status_code for i in range(20)]

    first, second = run(), run()
    assert first == second
    assert 201 in first and any(s >= 500 for s in first)


def test_rate_limit_storm_fraction_answers_429_with_nothing_remaining(braze_sandbox, braze):
    braze_sandbox.faults.update(rate_limit_storm=1.0, rate_limit_storm_reset=5)
    response = braze.post("/users/track", _one())
    assert (response.status_code, response.json()) == (429, {"message": "Rate Limited"})
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert 4 <= int(response.headers["X-RateLimit-Reset"]) - time.time() <= 6
    assert braze_sandbox.store.users() == []


def test_rate_limit_storm_window_refuses_everything_until_it_ends(braze_sandbox, braze):
    braze_sandbox.faults.update(rate_limit_storm_for=0.4)
    assert braze.post("/users/track", _one()).status_code == 429
    time.sleep(0.45)
    assert braze.post("/users/track", _one()).status_code == 201


def test_slow_requests_wait_and_are_still_applied(braze_sandbox, braze):
    braze_sandbox.faults.update(slow_rate=1.0, slow_seconds=0.3)
    started = time.monotonic()
    response = braze.post("/users/track", _one())
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 201 and braze_sandbox.store.find_user(external_id="u0") is not None


def test_dropped_connection_gets_no_answer_and_applies_nothing(braze_sandbox, braze):
    braze_sandbox.faults.update(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        braze.post("/users/track", _one())
    assert braze_sandbox.store.users() == []
    assert braze_sandbox.requests.records()[-1].status is None


def test_processed_then_timeout_applies_the_request_before_the_client_times_out(braze_sandbox, braze):
    braze_sandbox.faults.update(processed_then_timeout_rate=1.0, timeout_seconds=0.5)
    with pytest.raises(requests.ReadTimeout):
        braze.post("/users/track", _one(), timeout=0.2)
    assert braze_sandbox.store.find_user(external_id="u0") is not None


def test_processed_then_timeout_answers_504_late(braze_sandbox, braze):
    braze_sandbox.faults.update(processed_then_timeout_rate=1.0, timeout_seconds=0.2)
    started = time.monotonic()
    response = braze.post("/users/track", _one())
    assert response.status_code == 504 and time.monotonic() - started >= 0.2
    assert braze_sandbox.store.find_user(external_id="u0") is not None


def test_faults_can_be_limited_to_some_endpoints(braze_sandbox, braze):
    braze_sandbox.faults.update(error_rate=1.0, endpoints=["users/delete"])
    assert braze.post("/users/track", _one()).status_code == 201
    assert braze.post("/users/delete", {"external_ids": ["u0"]}).status_code >= 500


def test_faults_are_set_over_http(braze_sandbox, braze):
    reply = requests.post(
        braze_sandbox.url + "/_sandbox/faults", json={"error_rate": 1, "error_statuses": [502]}, timeout=5
    )
    assert reply.json()["error_rate"] == 1.0
    assert braze.post("/users/track", _one()).status_code == 502


def test_unknown_fault_setting_over_http_is_400(braze_sandbox):
    assert requests.post(braze_sandbox.url + "/_sandbox/faults", json={"chaos": 1}, timeout=5).status_code == 400


def test_latency_delays_every_answer(braze_sandbox, braze):
    braze_sandbox.latency = 0.2
    started = time.monotonic()
    braze.post("/users/track", _one())
    assert time.monotonic() - started >= 0.2


def test_fast_mode_applies_and_counts_answers_but_keeps_no_request_log():
    from airflow_provider_braze.sandbox.braze import BrazeSandbox

    with BrazeSandbox(api_keys={"k": None}, fast=True, latency=0.2) as sandbox:
        sandbox.set_rate_limit("users_track", limit=1, period=60.0)
        started = time.monotonic()
        for _ in range(2):
            requests.post(sandbox.url + "/users/track", json=_one(), headers={"Authorization": "Bearer k"}, timeout=5)
        assert time.monotonic() - started >= 0.4  # the latency asked for is kept: benchmarks need it
        assert sandbox.store.find_user(external_id="u0") is not None and len(sandbox.requests) == 0
        counts = requests.get(sandbox.url + "/_sandbox/counts", timeout=5).json()
        assert counts["responses"] == {"201": 1, "429": 1}
