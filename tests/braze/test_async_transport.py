"""AsyncBrazeClient: the same retry decisions, typed errors and secret hygiene as the synchronous client."""

from __future__ import annotations

import logging
import time
import uuid

import httpx
import pytest

from airflow_provider_braze.braze.async_transport import AsyncBrazeClient
from airflow_provider_braze.braze.errors import (
    BrazeAmbiguousOutcomeError,
    BrazeBadRequestError,
    BrazeJobInProgressError,
    BrazeNotFoundError,
    BrazeRateLimitError,
    BrazeResponseLostError,
)
from airflow_provider_braze.braze.retry import RetryPolicy
from tests.helpers.secrets import TEST_API_KEY


@pytest.fixture
def sandbox(cdi_sandbox):
    """This module's own Braze sandbox, ``braze_default`` pointing at it with quick retries."""
    return cdi_sandbox


BASE = "https://rest.iad-03.braze.com"
STATUS = "cdi/integrations/{integration_id}/job_sync_status"
SYNC = "cdi/integrations/{integration_id}/sync"
ID = {"integration_id": "00000000-0000-0000-0000-000000000001"}
POLICY = RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_max=4.0, reset_jitter=0.0)


class AsyncSleepRecorder:
    """Stands in for ``asyncio.sleep``: remembers each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Script:
    """An httpx transport that answers from a list of responses (or raises listed exceptions)."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def mocked(script: Script, sleeps: AsyncSleepRecorder | None = None, **kwargs) -> AsyncBrazeClient:
    return AsyncBrazeClient(
        BASE,
        TEST_API_KEY,
        retry_policy=POLICY,
        sleep=sleeps or AsyncSleepRecorder(),
        transport=httpx.MockTransport(script),
        **kwargs,
    )


def ok(**body) -> httpx.Response:
    return httpx.Response(200, json={"message": "success", **body})


# --- against the sandbox (real HTTP on 127.0.0.1) ----------------------------------------------------


@pytest.mark.asyncio
async def test_lists_integrations_from_the_sandbox(sandbox):
    integration_id = sandbox.add_cdi_integration(integration_name="users table")
    async with AsyncBrazeClient(sandbox.url, TEST_API_KEY) as client:
        response = await client.get("cdi/integrations")
    assert response.status_code == 200
    assert [r["integration_id"] for r in response.body["results"]] == [integration_id]


@pytest.mark.asyncio
async def test_post_sync_is_202_then_job_in_progress_is_not_retried(sandbox):
    integration_id = sandbox.add_cdi_integration(job_duration=2)
    async with AsyncBrazeClient(sandbox.url, TEST_API_KEY, retry_policy=POLICY) as client:
        first = await client.post(SYNC, path_params={"integration_id": integration_id})
        with pytest.raises(BrazeJobInProgressError, match="Another job is in progress"):
            await client.post(SYNC, path_params={"integration_id": integration_id})
    assert first.status_code == 202
    assert [r.status for r in sandbox.requests.records(endpoint=SYNC)] == [202, 429]


@pytest.mark.asyncio
async def test_rate_limit_429_waits_for_reset_and_retries_against_the_sandbox(sandbox):
    sandbox.set_rate_limit("cdi_job_sync_status", 1, 1.0)
    integration_id = sandbox.add_cdi_integration()
    async with AsyncBrazeClient(sandbox.url, TEST_API_KEY, retry_policy=POLICY) as client:
        await client.get(STATUS, path_params={"integration_id": integration_id})
        second = await client.get(STATUS, path_params={"integration_id": integration_id})
    assert second.status_code == 200 and second.attempts == 2
    assert [r.status for r in sandbox.requests.records(endpoint=STATUS)] == [200, 429, 200]


@pytest.mark.asyncio
async def test_400_is_not_retried(sandbox):
    async with AsyncBrazeClient(sandbox.url, TEST_API_KEY, retry_policy=POLICY) as client:
        with pytest.raises(BrazeBadRequestError, match="Invalid integration ID"):
            await client.get(STATUS, path_params={"integration_id": "not-a-uuid"})
    assert len(sandbox.requests.records(endpoint=STATUS)) == 1


@pytest.mark.asyncio
async def test_404_is_not_retried(sandbox):
    async with AsyncBrazeClient(sandbox.url, TEST_API_KEY, retry_policy=POLICY) as client:
        with pytest.raises(BrazeNotFoundError, match="Integration not found"):
            await client.post(SYNC, path_params={"integration_id": str(uuid.uuid4())})
    assert len(sandbox.requests.records(endpoint=SYNC)) == 1


@pytest.mark.asyncio
async def test_dropped_connection_of_an_idempotent_get_is_retried_as_a_lost_response(sandbox):
    sandbox.faults.update(drop_rate=1.0, endpoints=["cdi/integrations"])
    sleeps = AsyncSleepRecorder()
    async with AsyncBrazeClient(sandbox.url, TEST_API_KEY, retry_policy=POLICY, sleep=sleeps) as client:
        with pytest.raises(BrazeResponseLostError):
            await client.get("cdi/integrations")
    assert len(sleeps.waits) == POLICY.max_attempts - 1


# --- with a mocked httpx transport ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_requests_carry_bearer_key_user_agent_and_json():
    script = Script(httpx.Response(202, json={"message": "success"}))
    async with mocked(script) as client:
        await client.request("users/track", json_body={"attributes": [{"external_id": "u1", "plan": "gold"}]})
    sent = script.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {TEST_API_KEY}"
    assert sent.headers["User-Agent"].startswith("airflow-provider-braze-sync/")
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.url == f"{BASE}/users/track"


@pytest.mark.asyncio
async def test_query_params_are_sent_and_none_values_dropped():
    script = Script(ok(results=[]))
    async with mocked(script) as client:
        await client.get("cdi/integrations", params={"cursor": "c2tpcDow+a=", "other": None})
    assert script.requests[0].url.params.multi_items() == [("cursor", "c2tpcDow+a=")]


@pytest.mark.asyncio
async def test_rate_limit_waits_until_x_ratelimit_reset():
    reset = int(time.time()) + 30
    limited = httpx.Response(429, json={"message": "Rate Limited"}, headers={"X-RateLimit-Reset": str(reset)})
    sleeps = AsyncSleepRecorder()
    async with mocked(Script(limited, ok(results=[])), sleeps) as client:
        response = await client.get(STATUS, path_params=ID)
    assert response.attempts == 2
    assert len(sleeps.waits) == 1 and 28 <= sleeps.waits[0] <= 30


@pytest.mark.asyncio
async def test_rate_limit_is_raised_typed_when_attempts_run_out():
    limited = [httpx.Response(429, json={"message": "Rate Limited"}) for _ in range(POLICY.max_attempts)]
    async with mocked(Script(*limited)) as client:
        with pytest.raises(BrazeRateLimitError):
            await client.get(STATUS, path_params=ID)


@pytest.mark.asyncio
async def test_5xx_is_retried_with_exponential_backoff():
    sleeps = AsyncSleepRecorder()
    script = Script(httpx.Response(503), httpx.Response(500, json={"message": "boom"}), ok(results=[]))
    async with mocked(script, sleeps) as client:
        response = await client.get(STATUS, path_params=ID)
    assert response.attempts == 3 and len(script.requests) == 3
    assert len(sleeps.waits) == 2 and 0 <= sleeps.waits[0] <= 0.5 and 0 <= sleeps.waits[1] <= 1.0


@pytest.mark.asyncio
async def test_504_on_a_non_idempotent_sync_is_not_resent_and_is_an_ambiguous_outcome():
    script = Script(httpx.Response(504, json={"message": "Gateway Timeout"}))
    async with mocked(script) as client:
        with pytest.raises(BrazeAmbiguousOutcomeError, match="HTTP 504"):
            await client.post(SYNC, path_params=ID)
    assert len(script.requests) == 1


@pytest.mark.asyncio
async def test_503_on_a_non_idempotent_sync_is_resent():
    script = Script(httpx.Response(503, json={"message": "Service Unavailable"}), httpx.Response(202, json={}))
    async with mocked(script) as client:
        response = await client.post(SYNC, path_params=ID)
    assert response.attempts == 2 and response.ambiguous_attempts == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
async def test_other_4xx_are_not_retried(status):
    script = Script(httpx.Response(status, json={"message": "no"}))
    async with mocked(script) as client:
        with pytest.raises(Exception) as raised:
            await client.get(STATUS, path_params=ID)
    assert raised.value.status_code == status and len(script.requests) == 1


@pytest.mark.asyncio
async def test_connect_errors_and_connect_timeouts_are_retried():
    script = Script(httpx.ConnectError("refused"), httpx.ConnectTimeout("slow connect"), httpx.Response(202, json={}))
    async with mocked(script) as client:
        response = await client.post(SYNC, path_params=ID)
    assert response.attempts == 3


@pytest.mark.asyncio
async def test_read_timeout_of_an_idempotent_get_is_retried():
    script = Script(httpx.ReadTimeout("slow"), ok(results=[]))
    async with mocked(script) as client:
        response = await client.get(STATUS, path_params=ID)
    assert response.attempts == 2


@pytest.mark.asyncio
async def test_read_timeout_of_a_sync_request_is_an_ambiguous_outcome():
    script = Script(httpx.ReadTimeout("slow"), httpx.Response(202, json={}))
    async with mocked(script) as client:
        with pytest.raises(BrazeAmbiguousOutcomeError, match="may have been applied"):
            await client.post(SYNC, path_params=ID)
    assert len(script.requests) == 1


# --- secrets -----------------------------------------------------------------------------------------


def test_repr_hides_the_key():
    client = AsyncBrazeClient(BASE, TEST_API_KEY)
    assert TEST_API_KEY not in repr(client) and "***" in repr(client)


@pytest.mark.asyncio
async def test_key_echoed_by_braze_is_redacted_from_the_error():
    script = Script(httpx.Response(401, json={"message": f"Invalid API key: {TEST_API_KEY}"}))
    async with mocked(script) as client:
        with pytest.raises(Exception) as raised:
            await client.get(STATUS, path_params=ID)
    assert TEST_API_KEY not in str(raised.value) and "***" in str(raised.value)


@pytest.mark.asyncio
async def test_key_never_reaches_the_logs_of_a_retried_request(caplog):
    caplog.set_level(logging.DEBUG)
    script = Script(httpx.ConnectError("refused"), httpx.Response(503), ok(results=[]))
    async with mocked(script) as client:
        await client.get(STATUS, path_params=ID)
    assert "retrying" in caplog.text  # the retries were logged ...
    assert TEST_API_KEY not in caplog.text  # ... without the key


def test_quoted_key_is_sent_without_its_quotes():
    client = AsyncBrazeClient(BASE, f" '{TEST_API_KEY}' ")
    assert client.client.headers["Authorization"] == f"Bearer {TEST_API_KEY}"
