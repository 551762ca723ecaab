"""The ``ketch-sandbox`` command: serves, prints its URL, sends a random stream, reads tokens from the environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading

import pytest
import requests

from airflow_provider_braze.sandbox.ketch import cli
from tests.helpers.ketch_sandbox import collapsed, stored_count
from tests.helpers.secrets import CALLBACK_TOKEN, TEST_KETCH_TOKEN

TOKEN_ENV = "KETCH_SANDBOX_TEST_TOKEN"
CALLBACK_ENV = "KETCH_SANDBOX_TEST_CALLBACK_TOKEN"


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "airflow_provider_braze.sandbox.ketch.cli", "--port", "0", *args]


def _env() -> dict[str, str]:
    return {**os.environ, TOKEN_ENV: TEST_KETCH_TOKEN, CALLBACK_ENV: CALLBACK_TOKEN}


def _read_line(process: subprocess.Popen, timeout: float = 20) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


@pytest.fixture
def start_cli():
    processes: list[subprocess.Popen] = []

    def start(*args: str) -> tuple[subprocess.Popen, str]:
        process = subprocess.Popen(
            _command(*args), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        processes.append(process)
        line = _read_line(process)
        match = re.fullmatch(r"ketch-sandbox listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, f"unexpected first line {line!r}"
        return process, match.group(1)

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=10)


def test_cli_prints_its_url_serves_the_web_api_and_stops_on_sigterm(start_cli):
    process, url = start_cli("--org", "acme")
    update = {"identities": {"email": "ada@example.com"}, "topics": {"news": {"email": {"status": "granted"}}}}
    assert requests.post(f"{url}/web/v2/subscriptions/acme/update", json=update, timeout=5).status_code == 204
    got = requests.post(f"{url}/web/v2/subscriptions/acme/get", json={"identities": update["identities"]}, timeout=5)
    assert got.json()["topics"] == update["topics"]
    process.terminate()
    assert process.wait(timeout=10) == 0


def test_cli_sends_a_random_stream_and_summarises_it(start_cli, receiver_url, store, tmp_path):
    expected_path = tmp_path / "expected.json"
    process, _ = start_cli(
        "--receiver-url",
        receiver_url,
        "--token-env",
        TOKEN_ENV,
        "--callback-token-env",
        CALLBACK_ENV,
        "--send-random",
        "40",
        "--seed",
        "3",
        "--identities",
        "4",
        "--duplicate-rate",
        "0.25",
        "--expected-out",
        str(expected_path),
        "--exit-after-send",
    )
    summary = _read_line(process)
    assert summary.startswith("ketch-sandbox sent 50 webhooks (40 changes, 10 redeliveries")
    assert "50 accepted, 0 failed" in summary and '{"202": 50}' in summary
    assert process.wait(timeout=10) == 0
    assert stored_count(store) == 40
    rows = json.loads(expected_path.read_text())["expected_state"]
    assert {(r["identity"], r["topic"], r["channel"]): r["status"] for r in rows} == collapsed(store)
    out, err = process.communicate(timeout=10)
    assert TEST_KETCH_TOKEN not in summary + out + err


def test_a_running_cli_can_be_steered_over_http(start_cli, receiver_url, store):
    _, url = start_cli("--receiver-url", receiver_url, "--token-env", TOKEN_ENV, "--org", "axonic")
    sent = requests.post(
        f"{url}/_sandbox/send/subscription",
        json={"identity": "ada@example.com", "topic": "news", "channel": "email", "status": "granted"},
        timeout=10,
    ).json()
    assert sent["status_code"] == 202 and store.get_event(sent["uid"]) is not None
    arguments = {"n_changes": 12, "seed": 5, "n_identities": 3}
    stream = requests.post(f"{url}/_sandbox/streams/random", json=arguments, timeout=30).json()
    assert stream["delivery"]["accepted"] == 12 and stored_count(store) == 13
    state = requests.get(f"{url}/_sandbox/state", timeout=10).json()
    assert len(state["webhooks"]) == 13
    assert requests.post(f"{url}/_sandbox/reset", timeout=10).status_code == 200
    assert requests.get(f"{url}/_sandbox/state", timeout=10).json()["webhooks"] == []


def test_the_tokens_are_not_on_the_command_line(start_cli, receiver_url):
    process, _ = start_cli(
        "--receiver-url", receiver_url, "--token-env", TOKEN_ENV, "--callback-token-env", CALLBACK_ENV
    )
    with open(f"/proc/{process.pid}/cmdline", "rb") as cmdline:
        text = cmdline.read()
    assert TEST_KETCH_TOKEN.encode() not in text and CALLBACK_TOKEN.encode() not in text


def test_cli_refuses_a_receiver_without_its_token_variable(monkeypatch, capsys):
    monkeypatch.delenv("KETCH_NO_SUCH_TOKEN", raising=False)
    with pytest.raises(SystemExit) as caught:
        cli.main(["--receiver-url", "http://127.0.0.1:9/ketch/webhook", "--token-env", "KETCH_NO_SUCH_TOKEN"])
    assert caught.value.code == 2 and "KETCH_NO_SUCH_TOKEN" in capsys.readouterr().err


def test_cli_needs_a_receiver_to_send_a_stream(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["--send-random", "5"])
    assert caught.value.code == 2 and "--receiver-url" in capsys.readouterr().err
