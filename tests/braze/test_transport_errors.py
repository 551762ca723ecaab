"""One classification of transport failures for requests and httpx: was the request sent or not?"""

from __future__ import annotations

import socket
import threading

import httpx
import pytest
import requests
import urllib3

from airflow_provider_braze.braze.errors import BrazeConnectError, BrazeResponseLostError, BrazeServerError
from airflow_provider_braze.braze.retry import RetryPolicy, is_ambiguous
from airflow_provider_braze.braze.transport_errors import from_httpx, from_requests


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _ReadsThenHangsUp:
    """A loopback server that reads a whole request, then closes the socket without answering."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/users/track"

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        self.received.append(data)
        conn.close()

    def close(self) -> None:
        self.sock.close()


def test_a_refused_connection_with_requests_is_never_sent():
    with pytest.raises(requests.ConnectionError) as raised:
        requests.post(f"http://127.0.0.1:{_closed_port()}/users/track", data=b"{}", timeout=2)
    error = from_requests(raised.value)
    assert isinstance(error, BrazeConnectError) and not error.may_have_been_applied


def test_a_refused_connection_with_httpx_is_never_sent():
    with pytest.raises(httpx.ConnectError) as raised:
        httpx.post(f"http://127.0.0.1:{_closed_port()}/users/track", content=b"{}", timeout=2)
    assert isinstance(from_httpx(raised.value), BrazeConnectError)


def test_a_connection_closed_after_the_request_with_requests_may_have_been_applied():
    server = _ReadsThenHangsUp()
    try:
        with pytest.raises(requests.ConnectionError) as raised:
            requests.post(server.url, data=b'{"events":[]}', headers={"Content-Type": "application/json"}, timeout=5)
        server.thread.join(5)
    finally:
        server.close()
    assert server.received and b'{"events":[]}' in server.received[0]
    error = from_requests(raised.value)
    assert isinstance(error, BrazeResponseLostError) and error.may_have_been_applied


def test_a_connection_closed_after_the_request_with_httpx_may_have_been_applied():
    server = _ReadsThenHangsUp()
    try:
        with pytest.raises(httpx.TransportError) as raised:
            httpx.post(server.url, content=b'{"events":[]}', timeout=5)
        server.thread.join(5)
    finally:
        server.close()
    assert server.received
    assert isinstance(from_httpx(raised.value), BrazeResponseLostError)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (requests.ConnectTimeout("x"), BrazeConnectError),
        (requests.ReadTimeout("x"), BrazeResponseLostError),
        (
            requests.ConnectionError(urllib3.exceptions.ProtocolError("aborted", ConnectionResetError())),
            BrazeResponseLostError,
        ),
        (requests.exceptions.ChunkedEncodingError("cut"), BrazeResponseLostError),
        (httpx.ConnectTimeout("x"), BrazeConnectError),
        (httpx.PoolTimeout("x"), BrazeConnectError),
        (httpx.ConnectError("x"), BrazeConnectError),
        (httpx.ReadTimeout("x"), BrazeResponseLostError),
        (httpx.WriteTimeout("x"), BrazeResponseLostError),
        (httpx.ReadError("x"), BrazeResponseLostError),
        (httpx.RemoteProtocolError("x"), BrazeResponseLostError),
    ],
)
def test_each_library_failure_maps_to_one_project_error(error, expected):
    mapped = from_requests(error) if isinstance(error, requests.RequestException) else from_httpx(error)
    assert type(mapped) is expected


def test_failures_that_are_not_transport_failures_are_not_mapped():
    assert from_httpx(httpx.UnsupportedProtocol("ftp")) is None
    assert from_requests(requests.exceptions.InvalidURL("x")) is None


@pytest.mark.parametrize(
    ("error", "idempotent", "retried"),
    [
        (BrazeConnectError("refused"), False, True),
        (BrazeResponseLostError("lost"), False, False),
        (BrazeResponseLostError("lost"), True, True),
        (BrazeServerError(500, "x"), False, True),
        (BrazeServerError(503, "x"), False, True),
        (BrazeServerError(502, "x"), False, False),
        (BrazeServerError(504, "x"), False, False),
        (BrazeServerError(504, "x"), True, True),
    ],
)
def test_the_policy_resends_only_what_cannot_count_twice(error, idempotent, retried):
    assert RetryPolicy().should_retry(error, idempotent=idempotent) is retried
    assert RetryPolicy(retry_ambiguous=True).should_retry(error, idempotent=idempotent) is True
    if not idempotent:
        # For a request that is not safe to resend, "not retried" and "may have been applied" coincide.
        assert is_ambiguous(error) is (not retried)
