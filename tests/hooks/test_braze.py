"""BrazeHook: reading the Airflow connection, endpoint selection, sending, and the connection test."""

from __future__ import annotations

import json
import socket
import time

import pytest

from airflow_provider_braze.braze.errors import BrazeCancelledError, BrazeConfigurationError, BrazeRateLimitWaitError
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.hooks.braze import BrazeHook
from tests.helpers.secrets import TEST_API_KEY


def set_connection(monkeypatch, conn_id: str = "braze_default", **fields) -> None:
    conn = {"conn_type": "braze", "host": "US-03", "password": TEST_API_KEY, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_hook_does_no_io_when_created(monkeypatch):
    # No connection exists: creating the hook must still work (DAG parsing creates operators).
    monkeypatch.delenv("AIRFLOW_CONN_NOPE", raising=False)
    hook = BrazeHook(braze_conn_id="nope")
    assert hook.braze_conn_id == "nope"


def test_instance_code_selects_the_rest_endpoint(monkeypatch):
    set_connection(monkeypatch, host="eu-02")
    assert BrazeHook().base_url == "https://rest.fra-02.braze.eu"


def test_unknown_instance_is_a_clear_error(monkeypatch):
    set_connection(monkeypatch, host="US-11")
    with pytest.raises(BrazeConfigurationError, match="valid instances are US-01"):
        _ = BrazeHook().base_url


def test_extras_configure_the_client(monkeypatch):
    set_connection(
        monkeypatch, extra={"concurrency": 3, "timeout": 12, "max_attempts": 2, "rate_limits": {"users_track": [10, 1]}}
    )
    hook = BrazeHook()
    assert hook.concurrency == 3
    assert hook.client.timeout == (10.0, 12.0)
    assert hook.client.retry_policy.max_attempts == 2
    assert hook.client.rate_limiter.groups["users_track"].limit == 10


def test_airflow2_style_prefixed_extras_are_read(monkeypatch):
    set_connection(monkeypatch, extra={"extra__braze__concurrency": "5"})
    assert BrazeHook().concurrency == 5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"concurrency": "many"}, "'concurrency' must be a number"),
        ({"retry_ambiguous": "perhaps"}, "'retry_ambiguous' must be true or false"),
        ({"rate_limits": "[1"}, "'rate_limits' must be a JSON object"),
        ({"rate_limit_share": 2}, "at most 1"),
    ],
)
def test_bad_extras_name_the_extra(monkeypatch, extra, message):
    set_connection(monkeypatch, extra=extra)
    with pytest.raises(BrazeConfigurationError, match=message):
        _ = BrazeHook().settings


def test_mau_contract_limit_caps_users_track_requests(monkeypatch):
    set_connection(monkeypatch, extra={"users_track_max_objects": 50})
    ep = BrazeHook().endpoint("users/track")
    assert (ep.max_items, ep.max_total_items) == (50, 50)


def test_explicit_concurrency_wins_over_the_connection(monkeypatch):
    set_connection(monkeypatch, extra={"concurrency": 3})
    assert BrazeHook(concurrency=6).concurrency == 6


def test_send_batches_and_reports_outcomes(monkeypatch, requests_mock):
    set_connection(monkeypatch)
    requests_mock.post("https://rest.iad-03.braze.com/users/track", status_code=201, json={"message": "success"})
    items = [Item("attributes", {"external_id": f"u{i}"}, ref=i) for i in range(80)]
    results = list(BrazeHook().send("users/track", items))
    assert sum(r.count("accepted") for r in results) == 80 and requests_mock.call_count == 2


def test_call_returns_the_parsed_response(monkeypatch, requests_mock):
    set_connection(monkeypatch)
    requests_mock.post(
        "https://rest.iad-03.braze.com/users/export/ids", json={"message": "success", "users": [{"external_id": "u1"}]}
    )
    response = BrazeHook().call("users/export/ids", json={"external_ids": ["u1"], "fields_to_export": ["external_id"]})
    assert response.body["users"] == [{"external_id": "u1"}]


def test_max_retry_seconds_bounds_a_rate_limit_wait_too(monkeypatch, requests_mock):
    set_connection(monkeypatch, extra={"max_retry_seconds": 30})
    reset = str(int(time.time()) + 100_000)
    requests_mock.post(
        "https://rest.iad-03.braze.com/users/track",
        status_code=429,
        json={"message": "Rate Limited"},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
    )
    started = time.monotonic()
    with pytest.raises(
        BrazeRateLimitWaitError, match=r"Braze asked to wait (99,999|100,000) s .* beyond max_retry_seconds=30"
    ):
        BrazeHook().call("users/track", json={"attributes": [{"external_id": "u1"}]})
    assert time.monotonic() - started < 1 and requests_mock.call_count == 1


def test_a_cancelled_hook_sends_nothing_more(monkeypatch, requests_mock):
    set_connection(monkeypatch)
    requests_mock.post("https://rest.iad-03.braze.com/users/track", status_code=201, json={"message": "success"})
    hook = BrazeHook()
    hook.call("users/track", json={"attributes": [{"external_id": "u1"}]})
    hook.cancel("export cancelled (SIGTERM)")
    with pytest.raises(BrazeCancelledError, match=r"export cancelled \(SIGTERM\)"):
        list(hook.send("users/track", [Item("attributes", {"external_id": "u2"}, ref=1)]))
    assert requests_mock.call_count == 1


def test_connection_test_succeeds_when_braze_only_objects_to_the_empty_body(monkeypatch, requests_mock):
    set_connection(monkeypatch)
    requests_mock.post(
        "https://rest.iad-03.braze.com/users/track", status_code=400, json={"message": "Invalid request"}
    )
    ok, message = BrazeHook().test_connection()
    assert ok and "rest.iad-03.braze.com" in message and "users.track" in message


def test_connection_test_explains_a_401(monkeypatch, requests_mock):
    set_connection(monkeypatch)
    requests_mock.post(
        "https://rest.iad-03.braze.com/users/track", status_code=401, json={"message": "Invalid API key"}
    )
    ok, message = BrazeHook().test_connection()
    assert not ok and "HTTP 401" in message and "another instance" in message
    assert TEST_API_KEY not in message


def test_connection_test_names_the_missing_permission(monkeypatch, requests_mock):
    set_connection(monkeypatch, extra={"test_endpoint": "users/delete"})
    requests_mock.post("https://rest.iad-03.braze.com/users/delete", status_code=403, json={"message": "Access Denied"})
    ok, message = BrazeHook().test_connection()
    assert not ok and "'users.delete'" in message and "HTTP 403" in message


def test_connection_test_reports_a_bad_host_without_raising(monkeypatch):
    set_connection(monkeypatch, host="http://rest.iad-01.braze.com")
    ok, message = BrazeHook().test_connection()
    assert not ok and "https" in message


def test_connection_test_says_braze_could_not_be_reached_when_nothing_listens(monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    set_connection(monkeypatch, host="http://127.0.0.1", port=port, extra=json.dumps({"max_attempts": 1}))
    ok, message = BrazeHook().test_connection()
    assert not ok and message.startswith(f"Could not reach Braze at http://127.0.0.1:{port}")


def test_a_sandbox_connection_given_without_a_scheme_gets_a_hint(monkeypatch, sandbox):
    """The URI form (``braze://:key@127.0.0.1:N``) has no scheme, so https: the hint says what to type."""
    port = int(sandbox.url.rsplit(":", 1)[1])
    set_connection(monkeypatch, host="127.0.0.1", port=port, extra=json.dumps({"max_attempts": 1}))
    ok, message = BrazeHook().test_connection()
    assert not ok and "TLS handshake failed" in message
    assert "a local sandbox speaks plain HTTP: set the connection's host to http://127.0.0.1 and its port" in message


def test_connection_test_spends_no_data_points(monkeypatch, requests_mock):
    set_connection(monkeypatch)
    requests_mock.post("https://rest.iad-03.braze.com/users/track", status_code=201, json={"message": "success"})
    BrazeHook().test_connection()
    assert requests_mock.last_request.json() == {}


def test_ui_field_behaviour_relabels_host_and_password():
    behaviour = BrazeHook.get_ui_field_behaviour()
    assert behaviour["relabeling"] == {"host": "REST endpoint or instance", "password": "REST API key"}
    assert "login" in behaviour["hidden_fields"]
