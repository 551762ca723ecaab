"""KetchHook: connection settings, the state store it opens, Ketch's web API, and the connection test."""

from __future__ import annotations

import json
import logging
import os

import pytest
import requests

from airflow_provider_braze.hooks.ketch import KetchHook, KetchSubscriptionState, KetchWebAPIError
from airflow_provider_braze.hooks.ketch_settings import DEFAULT_WEB_API_URL, KetchConfigurationError
from airflow_provider_braze.state import KetchEventStore
from tests.helpers.ketch import WEB_API, record, set_ketch_connection
from tests.helpers.ketch_payloads import EMAIL, TENANT, topic_request
from tests.helpers.secrets import TEST_KETCH_TOKEN

GET_URL = f"{WEB_API}/subscriptions/{TENANT}/get"
UPDATE_URL = f"{WEB_API}/subscriptions/{TENANT}/update"
STATE = {
    "topics": {"newsletter": {"email": {"status": "granted"}, "sms": {"status": "denied"}}},
    "controls": {"global_unsubscribe": {"status": "denied"}},
    "collectedAt": 1_700_000_000,
}


class FakeClock:
    """A monotonic clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def web_api_hook(monkeypatch, state_url: str, clock: FakeClock | None = None, **extra) -> KetchHook:
    set_ketch_connection(monkeypatch, host=WEB_API, extra={"state_url": state_url, **extra})
    clock = clock or FakeClock()
    return KetchHook(sleep=clock.sleep, clock=clock.monotonic)


# --- settings ------------------------------------------------------------------------------------------------


def test_hook_does_no_io_when_created(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NOPE", raising=False)
    hook = KetchHook(ketch_conn_id="nope")
    assert (hook.ketch_conn_id, repr(hook)) == ("nope", "KetchHook(ketch_conn_id='nope')")


def test_connection_fields_become_settings(monkeypatch):
    set_ketch_connection(
        monkeypatch,
        host="global.ketchcdn.com/web/v2/",
        extra={"property": "website", "environment": "production", "web_api_qps": "2.5", "max_body_bytes": 65536},
    )
    s = KetchHook().settings
    assert s.web_api_url == "https://global.ketchcdn.com/web/v2"
    assert (s.organization, s.webhook_token, s.property_code, s.environment) == (
        TENANT,
        TEST_KETCH_TOKEN,
        "website",
        "production",
    )
    assert (s.web_api_qps, s.max_body_bytes, s.web_api_configured) == (2.5, 65536, True)


def test_empty_host_means_ketchs_global_web_api(monkeypatch):
    set_ketch_connection(monkeypatch)
    s = KetchHook().settings
    assert (s.web_api_url, s.web_api_configured) == (DEFAULT_WEB_API_URL, False)


def test_airflow2_style_prefixed_extras_are_read(monkeypatch):
    set_ketch_connection(monkeypatch, extra={"extra__ketch__property": "app"})
    assert KetchHook().settings.property_code == "app"


@pytest.mark.parametrize("host", ["http://ketch.example.com/web/v2", "ftp://127.0.0.1/web/v2"])
def test_plain_http_is_refused_except_to_loopback(monkeypatch, host):
    set_ketch_connection(monkeypatch, host=host)
    with pytest.raises(KetchConfigurationError, match="https"):
        _ = KetchHook().settings


@pytest.mark.parametrize("host", ["http://127.0.0.1:8086/web/v2", "http://localhost:8086/web/v2", "http://[::1]:8086"])
def test_plain_http_to_loopback_is_allowed(monkeypatch, host):
    set_ketch_connection(monkeypatch, host=host)
    assert KetchHook().settings.web_api_url == host


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"web_api_qps": "fast"}, "'web_api_qps' must be a number"),
        ({"web_api_qps": 0}, "'web_api_qps' must be at least"),
        ({"max_body_bytes": 10}, "'max_body_bytes' must be at least 1024"),
        ({"state_url": "sqlite://", "state_conn_id": "db"}, "not both"),
    ],
)
def test_invalid_extras_are_clear_configuration_errors(monkeypatch, extra, message):
    set_ketch_connection(monkeypatch, extra=extra)
    with pytest.raises(KetchConfigurationError, match=message):
        _ = KetchHook().settings


def test_the_token_and_database_password_stay_out_of_repr(monkeypatch):
    url = "postgresql+psycopg://ketch:db-pass-4f1e9a@127.0.0.1:1/state"
    set_ketch_connection(monkeypatch, extra={"state_url": url})
    hook = KetchHook()
    for text in (repr(hook), repr(hook.settings), str(hook.settings)):
        assert TEST_KETCH_TOKEN not in text and "db-pass-4f1e9a" not in text


# --- the state store -----------------------------------------------------------------------------------------


def test_default_state_store_is_a_sqlite_file_in_airflow_home(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    set_ketch_connection(monkeypatch)
    store = KetchHook().get_event_store()
    store.ping()
    assert store.engine.url.database == str(tmp_path / "home" / "braze_provider_state.db")
    assert os.path.exists(tmp_path / "home" / "braze_provider_state.db")


def test_event_store_is_built_once_per_hook(ketch_conn):
    hook = KetchHook()
    assert hook.get_event_store() is hook.get_event_store()


def test_state_url_extra_selects_the_store(ketch_conn, store):
    (event_id,) = record(store, topic_request(uid="u-1"))
    assert KetchHook().get_event_store().unsynced_range().last_id == event_id


def test_state_store_from_an_airflow_sqlite_connection(monkeypatch, tmp_path):
    path = tmp_path / "from_conn" / "state.db"
    monkeypatch.setenv("AIRFLOW_CONN_KETCH_STATE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    set_ketch_connection(monkeypatch, extra={"state_conn_id": "ketch_state"})
    hook = KetchHook()
    assert hook.state_store_url() == f"sqlite:///{path}"
    assert hook.get_event_store().record_event(_event("u-conn")) is True
    assert KetchEventStore(f"sqlite:///{path}").get_event("u-conn") is not None


def test_state_store_from_an_airflow_postgres_connection_uses_its_hooks_url(monkeypatch):
    conn = {
        "conn_type": "postgres",
        "host": "db.internal",
        "port": 5432,
        "login": "ketch",
        "password": "pg-pass-77c3d1",
        "schema": "braze_state",
    }
    monkeypatch.setenv("AIRFLOW_CONN_KETCH_PG", json.dumps(conn))
    set_ketch_connection(monkeypatch, extra={"state_conn_id": "ketch_pg"})
    url = KetchHook().state_store_url()
    assert url.render_as_string(hide_password=False) == (
        "postgresql+psycopg://ketch:pg-pass-77c3d1@db.internal:5432/braze_state"
    )
    assert "pg-pass-77c3d1" not in str(url)


def _event(uid: str):
    from airflow_provider_braze.ketch.events import normalise
    from airflow_provider_braze.ketch.models import parse_request

    return normalise(parse_request(topic_request(uid=uid)))


# --- the web API ---------------------------------------------------------------------------------------------


def test_get_subscriptions_posts_the_organization_property_and_identities(monkeypatch, state_url, requests_mock):
    requests_mock.post(GET_URL, json=STATE)
    hook = web_api_hook(monkeypatch, state_url, property="website", environment="production")
    assert hook.get_subscriptions({"email": EMAIL}) == STATE
    assert requests_mock.last_request.json() == {
        "organizationCode": TENANT,
        "propertyCode": "website",
        "environmentCode": "production",
        "identities": {"email": EMAIL},
    }
    assert "Authorization" not in requests_mock.last_request.headers  # the web API takes no key


def test_arguments_override_the_connections_property_and_environment(monkeypatch, state_url, requests_mock):
    requests_mock.post(GET_URL, status_code=204)
    hook = web_api_hook(monkeypatch, state_url, property="website")
    assert hook.get_subscriptions({"email": EMAIL}, property="app", environment="staging") == {}
    body = requests_mock.last_request.json()
    assert (body["propertyCode"], body["environmentCode"]) == ("app", "staging")


def test_web_api_calls_need_the_organization_code(monkeypatch, state_url):
    set_ketch_connection(monkeypatch, login=None, host=WEB_API, extra={"state_url": state_url})
    with pytest.raises(KetchConfigurationError, match="organization code"):
        KetchHook().get_subscriptions({"email": EMAIL})


def test_set_subscriptions_posts_topics_controls_and_collection_time(monkeypatch, state_url, requests_mock):
    requests_mock.post(UPDATE_URL, status_code=204)
    hook = web_api_hook(monkeypatch, state_url)
    hook.set_subscriptions(
        {"email": EMAIL}, topics=STATE["topics"], controls=STATE["controls"], collected_at=1_700_000_500.7
    )
    assert requests_mock.last_request.json() == {
        "organizationCode": TENANT,
        "identities": {"email": EMAIL},
        "topics": STATE["topics"],
        "controls": STATE["controls"],
        "collectedAt": 1_700_000_500,
        "context": {"source": "airflow-provider-braze-sync"},
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs topics or controls"),
        ({"topics": {"newsletter": {"email": {"status": "allowed"}}}}, "granted"),
        ({"controls": {"global_unsubscribe": {"status": "maybe"}}}, "granted"),
    ],
)
def test_set_subscriptions_checks_what_it_sends(monkeypatch, state_url, requests_mock, kwargs, message):
    hook = web_api_hook(monkeypatch, state_url)
    with pytest.raises(ValueError, match=message):
        hook.set_subscriptions({"email": EMAIL}, **kwargs)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("identities", [{}, {"email": ""}, {"email": 5}])
def test_identities_must_be_non_empty_strings(monkeypatch, state_url, identities):
    with pytest.raises(ValueError, match="identit"):
        web_api_hook(monkeypatch, state_url).get_subscriptions(identities)


def test_rate_limited_request_waits_for_retry_after_then_succeeds(monkeypatch, state_url, requests_mock):
    requests_mock.post(GET_URL, [{"status_code": 429, "headers": {"Retry-After": "2"}}, {"json": STATE}])
    clock = FakeClock()
    hook = web_api_hook(monkeypatch, state_url, clock)
    assert hook.get_subscriptions({"email": EMAIL}) == STATE
    assert requests_mock.call_count == 2
    assert 2.0 in clock.sleeps


def test_server_errors_and_refused_connections_are_retried(monkeypatch, state_url, requests_mock):
    requests_mock.post(GET_URL, [{"status_code": 503}, {"exc": requests.ConnectionError("refused")}, {"json": STATE}])
    assert web_api_hook(monkeypatch, state_url).get_subscriptions({"email": EMAIL}) == STATE
    assert requests_mock.call_count == 3


def test_retries_end_after_max_attempts(monkeypatch, state_url, requests_mock):
    requests_mock.post(GET_URL, status_code=502)
    with pytest.raises(KetchWebAPIError, match="HTTP 502"):
        web_api_hook(monkeypatch, state_url, max_attempts=3).get_subscriptions({"email": EMAIL})
    assert requests_mock.call_count == 3


def test_client_errors_are_not_retried_and_carry_no_identities(monkeypatch, state_url, requests_mock):
    requests_mock.post(GET_URL, status_code=400, json={"error": {"message": "invalid identity space"}})
    with pytest.raises(KetchWebAPIError) as raised:
        web_api_hook(monkeypatch, state_url).get_subscriptions({"email": EMAIL})
    assert (raised.value.status_code, raised.value.message) == (400, "invalid identity space")
    assert EMAIL not in str(raised.value)
    assert requests_mock.call_count == 1


def test_reconcile_reads_every_identity_at_the_configured_pace(monkeypatch, state_url, requests_mock):
    requests_mock.post(GET_URL, json=STATE)
    clock = FakeClock()
    hook = web_api_hook(monkeypatch, state_url, clock, web_api_qps=2)
    users = [{"email": f"user{i}@example.com"} for i in range(5)]
    states = list(hook.reconcile(users))
    assert [s.identities for s in states] == users
    assert states[0] == KetchSubscriptionState(
        users[0], topics=STATE["topics"], controls=STATE["controls"], collected_at=1_700_000_000.0
    )
    # Five requests at two per second: the first goes at once, each next one half a second later.
    assert clock.now - 1000.0 == pytest.approx(2.0)
    assert [r.json()["identities"] for r in requests_mock.request_history] == users


def test_reconcile_reports_refused_identities_and_goes_on(monkeypatch, state_url, requests_mock):
    requests_mock.post(GET_URL, [{"json": STATE}, {"status_code": 400}, {"json": STATE}])
    states = list(
        web_api_hook(monkeypatch, state_url).reconcile([{"email": "a@x.io"}, {"email": "b@x.io"}, {"email": "c@x.io"}])
    )
    assert [s.error is None for s in states] == [True, False, True]
    assert "HTTP 400" in states[1].error


def test_reconcile_skips_users_unchanged_since_a_time(monkeypatch, state_url, requests_mock):
    requests_mock.post(GET_URL, [{"json": {**STATE, "collectedAt": 100}}, {"json": {**STATE, "collectedAt": 300}}])
    states = list(
        web_api_hook(monkeypatch, state_url).reconcile([{"email": "a@x.io"}, {"email": "b@x.io"}], changed_since=200)
    )
    assert [s.identities for s in states] == [{"email": "b@x.io"}]


def test_reconcile_logs_progress_without_personal_data(monkeypatch, state_url, requests_mock, caplog):
    requests_mock.post(GET_URL, json=STATE)
    users = [{"email": f"user{i}@example.com"} for i in range(150)]
    with caplog.at_level(logging.INFO, logger="airflow_provider_braze.ketch.web_api"):
        assert len(list(web_api_hook(monkeypatch, state_url, web_api_qps=1000).reconcile(users))) == 150
    out = "\n".join(r.getMessage() for r in caplog.records)
    progress = [line for line in out.splitlines() if "Ketch reconciliation" in line]
    assert "Ketch reconciliation: 100/150 identities read" in progress[0] and "ETA" in progress[0]
    assert "Ketch reconciliation done: 150/150" in progress[-1]
    assert "@example.com" not in out


# --- connection test -----------------------------------------------------------------------------------------


def test_connection_test_checks_the_store(ketch_conn):
    ok, message = KetchHook().test_connection()
    assert ok, message
    assert message.startswith("State store reachable (sqlite)")


def test_connection_test_calls_the_web_api_when_a_host_is_set(monkeypatch, state_url, requests_mock):
    requests_mock.post(GET_URL, status_code=400, json={"error": {"message": "identities required"}})
    ok, message = web_api_hook(monkeypatch, state_url).test_connection()
    assert ok, message
    assert f"Ketch web API at {WEB_API} answers for organization '{TENANT}'" in message


@pytest.mark.parametrize("failure", [{"status_code": 404}, {"status_code": 500}, {"exc": requests.ConnectTimeout}])
def test_connection_test_fails_when_the_web_api_does_not_answer(monkeypatch, state_url, requests_mock, failure):
    requests_mock.post(GET_URL, **failure)
    ok, message = web_api_hook(monkeypatch, state_url).test_connection()
    assert not ok and "Ketch web API" in message
    assert requests_mock.call_count == 1  # a test does not retry


def test_connection_test_with_a_web_api_host_needs_the_organization(monkeypatch, state_url, requests_mock):
    set_ketch_connection(monkeypatch, login=None, host=WEB_API, extra={"state_url": state_url})
    ok, message = KetchHook().test_connection()
    assert not ok and "organization code" in message
    assert requests_mock.call_count == 0


def test_connection_test_fails_on_an_unreachable_store_without_leaking_secrets(monkeypatch):
    url = "postgresql+psycopg://ketch:db-pass-4f1e9a@127.0.0.1:1/state?connect_timeout=2"
    set_ketch_connection(monkeypatch, extra={"state_url": url})
    ok, message = KetchHook().test_connection()
    assert not ok and message.startswith("The Ketch state store is unreachable: StateStoreError")
    assert "postgresql+psycopg://ketch:***@127.0.0.1:1/state" in message and ": unreachable (" in message
    assert "db-pass-4f1e9a" not in message and TEST_KETCH_TOKEN not in message


def test_connection_test_says_when_the_receiver_has_no_token(monkeypatch, state_url):
    set_ketch_connection(monkeypatch, password=None, extra={"state_url": state_url})
    ok, message = KetchHook().test_connection()
    assert ok and "no webhook bearer token" in message


def test_ui_field_behaviour_for_older_cores():
    behaviour = KetchHook.get_ui_field_behaviour()
    assert behaviour["relabeling"] == {
        "host": "Ketch web API URL",
        "login": "Organization code",
        "password": "Webhook bearer token",
    }
    assert "schema" in behaviour["hidden_fields"]
