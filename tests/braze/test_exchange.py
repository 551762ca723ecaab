"""The synchronous and async clients decide every call the same way (one exchange core).

Each case scripts a loopback server's answers, sends one request through :class:`BrazeClient`
(requests) and through :class:`AsyncBrazeClient` (httpx), and checks both against the same expected
outcome: the answer or error type, the attempts, the attempts Braze may also have applied, and how
many requests the server received.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airflow_provider_braze.braze.async_transport import AsyncBrazeClient
from airflow_provider_braze.braze.errors import (
    BrazeAmbiguousOutcomeError,
    BrazeBadRequestError,
    BrazeConnectError,
    BrazeServerError,
)
from airflow_provider_braze.braze.exchange import Exchange
from airflow_provider_braze.braze.rate_limit import RateLimiter
from airflow_provider_braze.braze.retry import RetryPolicy
from airflow_provider_braze.braze.transport import BrazeClient
from tests.helpers.secrets import TEST_API_KEY

EVENTS = {"events": [{"external_id": "u1", "name": "played", "time": "2026-01-01T00:00:00Z"}]}
ATTRIBUTES = {"attributes": [{"external_id": "u1", "plan": "pro"}]}
HANG_UP = "hang up"  # read the whole request, then close the socket without answering


class _Scripted(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server = self.server
        server.received += 1  # type: ignore[attr-defined]
        action = server.script.pop(0) if server.script else 201  # type: ignore[attr-defined]
        if action == HANG_UP:
            self.close_connection = True
            return
        if isinstance(action, tuple):  # (status, body)
            action, answer = action
        else:
            answer = {"message": "success" if action < 300 else "scripted failure"}
        body = json.dumps(answer).encode()
        self.send_response(action)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if action == 429:
            self.send_header("X-RateLimit-Reset", str(int(time.time())))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@dataclass
class Outcome:
    result: str  # the status of the answer, or the error's type name
    attempts: int
    ambiguous_attempts: int
    received: int


def _serve(script: list) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    server.script = list(script)  # type: ignore[attr-defined]
    server.received = 0  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server


def _policy(retry_ambiguous: bool) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=3, backoff_base=0.0, backoff_max=0.0, reset_jitter=0.0, retry_ambiguous=retry_ambiguous
    )


def _sync(url: str, body: dict, retry_ambiguous: bool) -> tuple[str, int, int]:
    client = BrazeClient(
        url,
        TEST_API_KEY,
        retry_policy=_policy(retry_ambiguous),
        rate_limiter=RateLimiter(enabled=False),
        sleep=lambda _seconds: None,
    )
    try:
        response = client.request("users/track", json_body=body)
    except Exception as error:  # noqa: BLE001 (the type is the outcome under test)
        return type(error).__name__, -1, -1
    finally:
        client.close()
    return str(response.status_code), response.attempts, response.ambiguous_attempts


def _async(url: str, body: dict, retry_ambiguous: bool) -> tuple[str, int, int]:
    async def no_wait(_seconds: float) -> None:
        return None

    async def send() -> tuple[str, int, int]:
        async with AsyncBrazeClient(url, TEST_API_KEY, retry_policy=_policy(retry_ambiguous), sleep=no_wait) as client:
            try:
                response = await client.request("users/track", json_body=body)
            except Exception as error:  # noqa: BLE001 (the type is the outcome under test)
                return type(error).__name__, -1, -1
        return str(response.status_code), response.attempts, response.ambiguous_attempts

    return asyncio.run(send())


CASES = {
    "accepted at once": ([201], EVENTS, False, Outcome("201", 1, 0, 1)),
    "503 is resent, even for events": ([503, 201], EVENTS, False, Outcome("201", 2, 0, 2)),
    "429 waits for the reset and is resent": ([429, 201], EVENTS, False, Outcome("201", 2, 0, 2)),
    "504 on events is not resent": ([504], EVENTS, False, Outcome(BrazeAmbiguousOutcomeError.__name__, -1, -1, 1)),
    "504 on attributes is resent": ([504, 201], ATTRIBUTES, False, Outcome("201", 2, 0, 2)),
    "504 on events resent when asked": ([504, 201], EVENTS, True, Outcome("201", 2, 1, 2)),
    "an answer lost after events were sent": (
        [HANG_UP],
        EVENTS,
        False,
        Outcome(BrazeAmbiguousOutcomeError.__name__, -1, -1, 1),
    ),
    "an answer lost after attributes were sent": ([HANG_UP, 201], ATTRIBUTES, False, Outcome("201", 2, 0, 2)),
    "503 then 504 on events: ambiguous, not failed": (
        [503, 504],
        EVENTS,
        False,
        Outcome(BrazeAmbiguousOutcomeError.__name__, -1, -1, 2),
    ),
    "400 is never resent": ([400], EVENTS, False, Outcome(BrazeBadRequestError.__name__, -1, -1, 1)),
    "500 until the attempts run out": ([500, 500, 500], EVENTS, False, Outcome(BrazeServerError.__name__, -1, -1, 3)),
}


@pytest.mark.parametrize("client", [_sync, _async], ids=["requests", "httpx"])
@pytest.mark.parametrize(("script", "body", "retry_ambiguous", "expected"), CASES.values(), ids=CASES.keys())
def test_both_clients_decide_each_answer_alike(client, script, body, retry_ambiguous, expected):
    server = _serve(script)
    try:
        result = client(f"http://127.0.0.1:{server.server_address[1]}", body, retry_ambiguous)
        assert Outcome(*result, server.received) == expected  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("client", [_sync, _async], ids=["requests", "httpx"])
def test_a_refused_connection_is_resent_and_never_ambiguous_on_both_clients(client):
    server = _serve([])
    url = f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()  # nothing listens there any more: every attempt is refused before sending
    assert client(url, EVENTS, False) == (BrazeConnectError.__name__, -1, -1)


ECHO = {
    "message": f"invalid request for key {TEST_API_KEY}",
    "errors": [{"type": f"'{TEST_API_KEY}' is not allowed", "input_array": [TEST_API_KEY], TEST_API_KEY: 1}],
}


def _sync_answer(url: str):
    client = BrazeClient(url, TEST_API_KEY, rate_limiter=RateLimiter(enabled=False), sleep=lambda _s: None)
    try:
        return client.request("users/track", json_body=ATTRIBUTES)
    except Exception as error:  # noqa: BLE001 (the error is the answer under test)
        return error
    finally:
        client.close()


def _async_answer(url: str):
    async def send():
        async with AsyncBrazeClient(url, TEST_API_KEY) as client:
            try:
                return await client.request("users/track", json_body=ATTRIBUTES)
            except Exception as error:  # noqa: BLE001 (the error is the answer under test)
                return error

    return asyncio.run(send())


@pytest.mark.parametrize("answer", [_sync_answer, _async_answer], ids=["requests", "httpx"])
@pytest.mark.parametrize("status", [201, 400])
def test_a_key_echoed_anywhere_in_brazes_answer_never_leaves_the_client(answer, status):
    server = _serve([(status, ECHO)])
    try:
        got = answer(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    if status == 400:
        assert isinstance(got, BrazeBadRequestError)
        seen = f"{got} {got.message} {got.errors!r}"
    else:
        seen = f"{got.body!r} {got.errors!r}"
    assert TEST_API_KEY not in seen and "***" in seen
    assert "'***' is not allowed" in seen  # the rest of what Braze said is kept


def test_the_exchange_prepares_one_body_and_one_verdict_on_resending():
    events = Exchange.prepare("http://127.0.0.1:1", "users/track", json_body=EVENTS)
    attributes = Exchange.prepare("http://127.0.0.1:1", "users/track", json_body=ATTRIBUTES)
    assert events.url == "http://127.0.0.1:1/users/track" and json.loads(events.data) == EVENTS
    assert (events.idempotent, attributes.idempotent) == (False, True)
    assert events.headers == {"Content-Type": "application/json"}
    assert events.describe() == "POST /users/track"
