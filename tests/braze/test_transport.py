"""BrazeClient: auth, retries, typed errors and secret hygiene, against requests-mock."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest
import requests
import urllib3

from airflow_provider_braze.braze.errors import (
    BrazeAmbiguousOutcomeError,
    BrazeAuthenticationError,
    BrazeBadRequestError,
    BrazeCancelledError,
    BrazeConfigurationError,
    BrazeJobInProgressError,
    BrazeNotFoundError,
    BrazePayloadTooLargeError,
    BrazePermissionError,
    BrazeRateLimitError,
    BrazeRateLimitWaitError,
    BrazeResponseLostError,
    BrazeServerError,
)
from airflow_provider_braze.braze.rate_limit import RateLimiter
from airflow_provider_braze.braze.retry import RetryPolicy
from airflow_provider_braze.braze.transport import BrazeClient
from tests.helpers.braze import BASE
from tests.helpers.secrets import TEST_API_KEY

TRACK = f"{BASE}/users/track"
OK = {"status_code": 201, "json": {"message": "success", "attributes_processed": 1}}
ATTRS = {"attributes": [{"external_id": "u1", "plan": "gold"}]}
EVENTS = {"events": [{"external_id": "u1", "name": "signup", "time": "2026-01-01T00:00:00Z"}]}


def test_requests_carry_bearer_key_user_agent_and_json(client, requests_mock):
    requests_mock.post(TRACK, **OK)
    client.request("users/track", json_body=ATTRS)
    sent = requests_mock.last_request
    assert sent.headers["Authorization"] == f"Bearer {TEST_API_KEY}"
    assert sent.headers["User-Agent"].startswith("airflow-provider-braze-sync/")
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json() == ATTRS


def test_quoted_key_is_sent_without_its_quotes(requests_mock):
    requests_mock.post(TRACK, **OK)
    BrazeClient(BASE, f' "{TEST_API_KEY}" ').request("users/track", json_body=ATTRS)
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {TEST_API_KEY}"


def test_missing_key_is_a_configuration_error():
    with pytest.raises(BrazeConfigurationError, match="no REST API key"):
        BrazeClient(BASE, "  ")


def test_429_waits_until_x_ratelimit_reset_then_succeeds(client, sleeps, requests_mock):
    reset = int(time.time()) + 7
    requests_mock.post(
        TRACK,
        [
            {
                "status_code": 429,
                "json": {"message": "Rate Limited"},
                "headers": {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
            },
            OK,
        ],
    )
    response = client.request("users/track", json_body=ATTRS)
    assert response.status_code == 201 and response.attempts == 2
    # The retry waited for the reset (lowercase header read), not for a short backoff.
    assert sleeps.waits and 5.5 <= sleeps.waits[0] <= 7.5


def test_429_without_reset_header_backs_off_exponentially(client, sleeps, requests_mock):
    requests_mock.post(TRACK, [{"status_code": 429, "json": {"message": "Rate Limited"}}] * 3 + [OK])
    client.request("users/track", json_body=ATTRS)
    assert requests_mock.call_count == 4
    assert len(sleeps.waits) == 3 and all(0 <= w <= 4.0 for w in sleeps.waits)


@pytest.mark.parametrize(("status", "body"), [(500, "EVENTS"), (503, "EVENTS"), (502, "ATTRS"), (504, "ATTRS")])
def test_5xx_is_retried_with_backoff(client, sleeps, requests_mock, status, body):
    requests_mock.post(TRACK, [{"status_code": status, "json": {"message": "oops"}}, OK])
    assert client.request("users/track", json_body={"EVENTS": EVENTS, "ATTRS": ATTRS}[body]).status_code == 201
    assert requests_mock.call_count == 2 and len(sleeps.waits) == 1


def test_retries_stop_after_max_attempts_with_the_typed_error(client, requests_mock):
    requests_mock.post(TRACK, status_code=503, json={"message": "Service Unavailable"})
    with pytest.raises(BrazeServerError) as info:
        client.request("users/track", json_body=ATTRS)
    assert info.value.status_code == 503 and requests_mock.call_count == 5


def test_retries_stop_early_when_the_next_wait_would_pass_max_delay(sleeps, requests_mock):
    client = BrazeClient(
        BASE,
        TEST_API_KEY,
        retry_policy=RetryPolicy(max_attempts=10, max_delay=30),
        sleep=sleeps,
        rate_limiter=RateLimiter(enabled=False),
    )
    reset = int(time.time()) + 3600
    requests_mock.post(
        TRACK, status_code=429, json={"message": "Rate Limited"}, headers={"X-RateLimit-Reset": str(reset)}
    )
    with pytest.raises(BrazeRateLimitWaitError, match=r"Braze asked to wait 3,\d{3} s .*beyond max_retry_seconds=30"):
        client.request("users/track", json_body=ATTRS)
    assert requests_mock.call_count == 1 and sleeps.waits == []


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BrazeBadRequestError),
        (401, BrazeAuthenticationError),
        (403, BrazePermissionError),
        (404, BrazeNotFoundError),
        (413, BrazePayloadTooLargeError),
    ],
)
def test_4xx_fails_at_once_with_status_message_and_errors(client, requests_mock, status, error):
    requests_mock.post(TRACK, status_code=status, json={"message": "Nope", "errors": ["detail"]})
    with pytest.raises(error) as info:
        client.request("users/track", json_body=ATTRS)
    assert requests_mock.call_count == 1
    assert (info.value.status_code, info.value.message, info.value.errors) == (status, "Nope", ["detail"])
    assert info.value.endpoint == "users/track"
    assert f"HTTP {status}" in str(info.value) and "Nope" in str(info.value)


def test_cdi_another_job_in_progress_is_not_a_rate_limit(client, requests_mock):
    url = f"{BASE}/cdi/integrations/abc/sync"
    requests_mock.post(url, status_code=429, json={"message": "Another job is in progress"})
    with pytest.raises(BrazeJobInProgressError):
        client.request("cdi/integrations/{integration_id}/sync", path_params={"integration_id": "abc"})
    assert requests_mock.call_count == 1


def test_a_refused_connection_is_retried_even_for_events(client, requests_mock):
    refused = requests.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, TRACK, urllib3.exceptions.NewConnectionError(None, "refused"))
    )
    requests_mock.post(TRACK, [{"exc": refused}, {"exc": requests.ConnectTimeout("slow connect")}, OK])
    response = client.request("users/track", json_body=EVENTS)
    assert response.status_code == 201 and response.attempts == 3 and response.ambiguous_attempts == 0


def test_a_connection_lost_after_sending_events_is_ambiguous_not_resent(client, requests_mock):
    lost = requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError()))
    requests_mock.post(TRACK, [{"exc": lost}, OK])
    with pytest.raises(BrazeAmbiguousOutcomeError, match="may have been applied"):
        client.request("users/track", json_body=EVENTS)
    assert requests_mock.call_count == 1


def test_a_connection_lost_after_sending_attributes_is_retried(client, requests_mock):
    lost = requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError()))
    requests_mock.post(TRACK, [{"exc": lost}, OK])
    assert client.request("users/track", json_body=ATTRS).attempts == 2


def test_read_timeout_is_retried_for_attribute_updates(client, requests_mock):
    requests_mock.post(TRACK, [{"exc": requests.ReadTimeout("slow")}, OK])
    assert client.request("users/track", json_body=ATTRS).attempts == 2


def test_read_timeout_on_events_is_reported_ambiguous_not_resent(client, requests_mock):
    requests_mock.post(TRACK, [{"exc": requests.ReadTimeout("slow")}, OK])
    with pytest.raises(BrazeAmbiguousOutcomeError, match="may have been applied"):
        client.request("users/track", json_body=EVENTS)
    assert requests_mock.call_count == 1


@pytest.mark.parametrize("status", [502, 504])
def test_502_and_504_on_an_increment_are_ambiguous_not_resent(client, requests_mock, status):
    requests_mock.post(TRACK, [{"status_code": status, "json": {"message": "Gateway"}}, OK])
    with pytest.raises(BrazeAmbiguousOutcomeError, match=f"HTTP {status}"):
        client.request("users/track", json_body={"attributes": [{"external_id": "u", "logins": {"inc": 1}}]})
    assert requests_mock.call_count == 1


def test_503_on_events_is_resent(client, requests_mock):
    requests_mock.post(TRACK, [{"status_code": 503, "json": {"message": "busy"}}, OK])
    assert client.request("users/track", json_body=EVENTS).attempts == 2


def test_retry_ambiguous_resends_events_after_a_timeout_and_counts_the_attempt_that_may_have_landed(
    sleeps, requests_mock
):
    client = BrazeClient(BASE, TEST_API_KEY, retry_policy=RetryPolicy(retry_ambiguous=True), sleep=sleeps)
    requests_mock.post(TRACK, [{"exc": requests.ReadTimeout("slow")}, OK])
    response = client.request("users/track", json_body=EVENTS)
    assert response.attempts == 2 and response.ambiguous_attempts == 1


def test_retry_ambiguous_that_still_fails_is_ambiguous_not_failed(sleeps, requests_mock):
    policy = RetryPolicy(retry_ambiguous=True, max_attempts=2)
    client = BrazeClient(BASE, TEST_API_KEY, retry_policy=policy, sleep=sleeps)
    requests_mock.post(TRACK, [{"exc": requests.ReadTimeout("slow")}, {"status_code": 503, "json": {"message": "x"}}])
    with pytest.raises(BrazeAmbiguousOutcomeError, match="sent again"):
        client.request("users/track", json_body=EVENTS)


def test_retries_are_logged_with_the_wait_and_reason(client, requests_mock, caplog):
    requests_mock.post(TRACK, [{"status_code": 503, "json": {"message": "busy"}}, OK])
    with caplog.at_level(logging.WARNING):
        client.request("users/track", json_body=ATTRS)
    assert any(
        "POST /users/track failed" in r.getMessage() and "attempt 2 of 5" in r.getMessage() for r in caplog.records
    )


def test_key_is_absent_from_repr_errors_and_logs(client, requests_mock, caplog):
    # Even if Braze echoed the key back, it would be redacted from the exception.
    requests_mock.post(TRACK, status_code=401, json={"message": f"Invalid API key: {TEST_API_KEY}"})
    with caplog.at_level(logging.DEBUG), pytest.raises(BrazeAuthenticationError) as info:
        client.request("users/track", json_body=ATTRS)
    assert TEST_API_KEY not in repr(client)
    assert TEST_API_KEY not in str(info.value) and TEST_API_KEY not in repr(info.value)
    assert all(TEST_API_KEY not in r.getMessage() for r in caplog.records)


def test_get_endpoints_send_query_parameters(client, requests_mock):
    requests_mock.get(f"{BASE}/email/unsubscribes", json={"emails": [], "message": "success"})
    client.request("email/unsubscribes", params={"start_date": "2026-01-01", "end_date": "2026-01-02"})
    assert requests_mock.last_request.qs == {"start_date": ["2026-01-01"], "end_date": ["2026-01-02"]}
    assert requests_mock.last_request.body is None


class FakeClock:
    """A monotonic and a wall clock that move only when the code under test sleeps."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = time.time()
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.mono += seconds
        self.wall += seconds


def test_429_pauses_the_rate_limit_group_for_every_thread(requests_mock):
    clock = FakeClock()
    limiter = RateLimiter(clock=lambda: clock.mono, wall_clock=lambda: clock.wall, sleep=clock.sleep)
    client = BrazeClient(BASE, TEST_API_KEY, rate_limiter=limiter, sleep=lambda s: None)
    reset = int(clock.wall) + 5
    requests_mock.post(
        TRACK,
        [{"status_code": 429, "json": {"message": "Rate Limited"}, "headers": {"X-RateLimit-Reset": str(reset)}}, OK],
    )
    client.request("users/track", json_body=ATTRS)
    # The retry had to pass the group's pause: the limiter held it until the reset.
    assert 4.0 <= sum(clock.slept) <= 5.0
    assert clock.wall >= reset


def test_the_environment_is_read_once_for_proxies_and_ca_bundle_and_netrc_never_replaces_the_key(
    monkeypatch, tmp_path, requests_mock
):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine rest.iad-03.braze.com login someone password not-the-key\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company.pem")
    session = BrazeClient(BASE, "k-123").session
    assert session.proxies["https"] == "http://proxy.internal:3128"
    assert session.verify == "/etc/ssl/company.pem"
    assert session.trust_env is False  # no lookups per request

    monkeypatch.setenv("NO_PROXY", "rest.iad-03.braze.com")
    assert "https" not in BrazeClient(BASE, "k-123").session.proxies
    assert BrazeClient(BASE, "k-123", verify=False).session.verify is False

    requests_mock.post(f"{BASE}/users/track", status_code=201, json={"message": "success"})
    BrazeClient(BASE, "k-123").request("users/track", json_body={"attributes": []})
    assert requests_mock.last_request.headers["Authorization"] == "Bearer k-123"


# --- every wait is bounded, and ends when the client is cancelled ---------------------------------


def test_a_2xx_saying_the_window_is_spent_until_beyond_max_retry_seconds_fails_the_next_request_at_once(
    requests_mock, caplog
):
    client = BrazeClient(BASE, TEST_API_KEY, retry_policy=RetryPolicy(max_delay=30))
    reset = int(time.time()) + 600
    requests_mock.post(TRACK, status_code=201, json={"message": "success"}, headers=_window(0, reset))
    client.request("users/track", json_body=ATTRS)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(BrazeRateLimitWaitError) as refused:
        client.request("users/track", json_body=ATTRS)
    assert time.monotonic() - started < 0.5 and requests_mock.call_count == 1
    assert re.match(
        r"POST /users/track: Braze asked to wait (59\d|600) s \(X-RateLimit-Remaining 0 until "
        rf"X-RateLimit-Reset {reset} \(\S+Z\), rate-limit group users_track\), beyond max_retry_seconds=30 "
        r"\(30.0 s left\); the request fails now",
        str(refused.value),
    ), refused.value
    assert [r.getMessage() for r in caplog.records if "beyond max_retry_seconds" in r.getMessage()] == [
        str(refused.value)
    ]


def test_a_429_within_max_retry_seconds_is_waited_for_until_the_attempts_run_out(sleeps, requests_mock):
    client = BrazeClient(BASE, TEST_API_KEY, retry_policy=RetryPolicy(max_attempts=3, max_delay=30), sleep=sleeps)
    requests_mock.post(
        TRACK, status_code=429, json={"message": "Rate Limited"}, headers=_window(0, int(time.time()) + 2)
    )
    with pytest.raises(BrazeRateLimitError):
        client.request("users/track", json_body=ATTRS)
    assert requests_mock.call_count == 3 and len(sleeps.waits) == 2


def test_cancel_wakes_a_request_waiting_for_its_retry_and_sends_nothing_more(requests_mock):
    client = BrazeClient(BASE, TEST_API_KEY, rate_limiter=RateLimiter(enabled=False))
    requests_mock.post(
        TRACK,
        [{"status_code": 429, "json": {"message": "Rate Limited"}, "headers": _window(0, int(time.time()) + 60)}, OK],
    )
    threading.Timer(0.1, client.cancel, args=("export cancelled (SIGTERM)",)).start()
    started = time.monotonic()
    with pytest.raises(BrazeCancelledError, match=r"export cancelled \(SIGTERM\)"):
        client.request("users/track", json_body=ATTRS)
    assert time.monotonic() - started < 0.5 and requests_mock.call_count == 1
    with pytest.raises(BrazeCancelledError):
        client.request("users/track", json_body=ATTRS)
    assert requests_mock.call_count == 1


def test_aborting_ends_a_request_in_flight_at_once_as_a_lost_answer(sandbox):
    sandbox.faults.update(slow_rate=1.0, slow_seconds=1.5)
    client = BrazeClient(sandbox.url, TEST_API_KEY, retry_policy=RetryPolicy(max_attempts=1))
    threading.Timer(0.2, client.abort_requests).start()
    started = time.monotonic()
    with pytest.raises(BrazeResponseLostError):
        client.request("users/track", json_body=ATTRS)
    assert time.monotonic() - started < 1.0
    time.sleep(1.5)  # the slow request lands in this test's sandbox, not the next one's


def _window(remaining: int, reset: int) -> dict[str, str]:
    return {"X-RateLimit-Limit": "3000", "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)}
