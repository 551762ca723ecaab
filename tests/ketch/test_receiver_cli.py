"""The receiver as shipped: ``ketch-receiver`` started as a process, a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from airflow_provider_braze.ketch import receiver_cli
from airflow_provider_braze.state import KetchEventStore
from airflow_provider_braze.state.schema import ketch_events
from tests.helpers.ketch_payloads import access_request, consent_request, control_request, delete_request, topic_request
from tests.helpers.secrets import RECEIVER_SERVER_TOKEN
from tests.helpers.servers import wait_until_answering

TOKEN = RECEIVER_SERVER_TOKEN
TOKEN_ENV = "KETCH_RECEIVER_TEST_TOKEN"


def start_receiver(state_url: str, *options: str) -> subprocess.Popen[str]:
    """``python -m ...receiver_cli`` on a free loopback port, its token in the environment, output piped."""
    command = [sys.executable, "-m", "airflow_provider_braze.ketch.receiver_cli", "--port", "0"]
    command += ["--token-env", TOKEN_ENV, "--state-url", state_url, *options]
    env = {**os.environ, TOKEN_ENV: TOKEN}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_ketch_receiver_accepts_connections_as_soon_as_it_says_listening(tmp_path):
    process = start_receiver(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        base = re.search(r"listening on (http://127\.0\.0\.1:\d+)", process.stdout.readline()).group(1)
        # At once, with no retry: a refused connection fails the test.
        assert requests.get(f"{base}/ketch/health", timeout=20).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Start ``python -m ...receiver_cli --port 0`` and yield (base URL, state URL, process)."""
    state_url = f"sqlite:///{tmp_path_factory.mktemp('receiver') / 'state.db'}"
    process = start_receiver(state_url, "--max-body-bytes", "16384")
    try:
        line = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)/ketch/webhook", line)
        assert match, f"unexpected first line from ketch-receiver: {line!r}"
        base = match.group(1)
        wait_until_answering(f"{base}/ketch/health", 200, process, what="ketch-receiver", timeout=20, interval=0.05)
        yield base, state_url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def store(server):
    s = KetchEventStore(server[1])
    yield s
    s.dispose()


def count(store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ketch_events)).scalar_one()


def post(server, body, token=TOKEN, **kwargs):
    data = body if isinstance(body, (bytes, str)) or hasattr(body, "__next__") else json.dumps(body)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    return requests.post(f"{server[0]}/ketch/webhook", data=data, headers=headers, timeout=10)


def test_each_kind_gets_its_status(server, store):
    assert post(server, topic_request()).status_code == 202
    assert post(server, control_request()).status_code == 202
    assert post(server, consent_request()).status_code == 204
    delete = post(server, delete_request(uid="srv-r1"))
    assert delete.status_code == 200 and delete.json()["kind"] == "DeleteResponse"
    assert delete.json()["response"]["status"] == "pending"
    access = post(server, access_request())
    assert access.status_code == 200 and access.json()["kind"] == "AccessResponse"
    assert store.rights.get_rights_request("srv-r1").status == "pending"


def test_wrong_token_is_401_and_nothing_stored(server, store):
    before = count(store)
    assert post(server, topic_request(), token="not-the-token").status_code == 401
    assert post(server, topic_request(), token=None).status_code == 401
    assert count(store) == before


def test_oversized_body_is_413_and_nothing_stored(server, store):
    before = count(store)
    body = topic_request()
    body["request"]["context"] = {"padding": "x" * 40_000}
    data = json.dumps(body).encode()
    assert post(server, data).status_code == 413
    chunked = (data[i : i + 8192] for i in range(0, len(data), 8192))
    assert post(server, chunked).status_code == 413
    assert count(store) == before


def test_malformed_json_is_400_and_nothing_stored(server, store):
    before = count(store)
    response = post(server, b'{"apiVersion": "subscription/v1", "kind": ')
    assert response.status_code == 400 and response.json()["error"]["status"] == "invalid"
    assert count(store) == before


def test_repeated_uid_is_stored_once(server, store):
    body = topic_request(uid="srv-repeat")
    before = count(store)
    assert [post(server, body).status_code for _ in range(3)] == [202, 202, 202]
    assert count(store) == before + 1


def test_the_token_is_not_on_the_command_line(server):
    process = server[2]
    cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes() if os.path.exists(f"/proc/{process.pid}") else b""
    assert TOKEN.encode() not in cmdline


# -- argument handling (in process, no server) ----------------------------------------------------------


def test_cli_refuses_to_start_without_the_token_variable(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("KETCH_NO_SUCH_TOKEN", raising=False)
    with pytest.raises(SystemExit) as caught:
        receiver_cli.main(["--token-env", "KETCH_NO_SUCH_TOKEN", "--state-url", f"sqlite:///{tmp_path}/s.db"])
    assert caught.value.code == 2
    assert "KETCH_NO_SUCH_TOKEN" in capsys.readouterr().err


def test_cli_needs_a_state_url(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with pytest.raises(SystemExit):
        receiver_cli.main(["--token-env", TOKEN_ENV])


def test_cli_can_read_the_state_url_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.delenv("KETCH_NO_SUCH_URL", raising=False)
    with pytest.raises(SystemExit):
        receiver_cli.main(["--token-env", TOKEN_ENV, "--state-url-env", "KETCH_NO_SUCH_URL"])
    assert "KETCH_NO_SUCH_URL" in capsys.readouterr().err
