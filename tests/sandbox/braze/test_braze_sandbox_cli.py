"""The ``braze-sandbox`` command: starts a server, prints its URL, stops on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import requests


def _start(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_braze.sandbox.braze.cli", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=20)
    if not lines or "listening on" not in lines[0]:
        process.kill()
        _, err = process.communicate(timeout=10)
        pytest.fail(f"braze-sandbox did not start: {lines!r} {err}")
    return process, lines[0].rsplit(" ", 1)[1].strip()


def _stop(process: subprocess.Popen) -> int:
    process.terminate()
    process.communicate(timeout=10)  # also closes the pipes
    return process.returncode


@pytest.fixture
def cli_sandbox(request):
    process, url = _start(*getattr(request, "param", ()))
    yield url
    _stop(process)


def test_cli_prints_a_loopback_url_and_serves_braze(cli_sandbox):
    assert cli_sandbox.startswith("http://127.0.0.1:")
    response = requests.post(
        cli_sandbox + "/users/track",
        json={"attributes": [{"external_id": "cli"}]},
        headers={"Authorization": "Bearer braze-sandbox-key"},
        timeout=5,
    )
    assert response.status_code == 201
    state = requests.get(cli_sandbox + "/_sandbox/state", timeout=5).json()
    assert [u["external_id"] for u in state["users"]] == ["cli"]


@pytest.mark.parametrize("cli_sandbox", [("--api-key", "k1", "--permissions", "users.track")], indirect=True)
def test_cli_keys_and_permissions(cli_sandbox):
    headers = {"Authorization": "Bearer k1"}
    assert (
        requests.post(
            cli_sandbox + "/users/delete", json={"external_ids": ["x"]}, headers=headers, timeout=5
        ).status_code
        == 403
    )
    assert (
        requests.post(
            cli_sandbox + "/users/track", json={"attributes": [{"external_id": "x"}]}, headers=headers, timeout=5
        ).status_code
        == 201
    )


@pytest.mark.parametrize("cli_sandbox", [("--rate-limit", "users_track=2/60", "--error-rate", "0")], indirect=True)
def test_cli_rate_limit_override(cli_sandbox):
    response = requests.post(
        cli_sandbox + "/users/track",
        json={"attributes": [{"external_id": "x"}]},
        headers={"Authorization": "Bearer braze-sandbox-key"},
        timeout=5,
    )
    assert response.headers["X-RateLimit-Limit"] == "2"


def test_cli_stops_cleanly_on_sigterm():
    process, url = _start()
    assert _stop(process) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/_sandbox/state", timeout=2)
