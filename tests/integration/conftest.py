"""A Braze sandbox on loopback and an Airflow connection pointing at it."""

from __future__ import annotations

import json

import pytest

from airflow_provider_braze.sandbox.braze import BrazeSandbox
from tests.conftest import TEST_API_KEY

from tests.conftest import TRACK_ONLY_KEY  # noqa: F401 - re-exported for the tests here


@pytest.fixture(scope="session")
def braze_server():
    with BrazeSandbox(api_keys={TEST_API_KEY: None, TRACK_ONLY_KEY: {"users.track"}}, seed=11) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(braze_server: BrazeSandbox) -> BrazeSandbox:
    """The shared sandbox, emptied, with Braze's own rate limits and no faults."""
    braze_server.reset()
    braze_server.rate_limits.clear_overrides()
    braze_server.latency = 0.0
    return braze_server


@pytest.fixture
def braze_conn(sandbox, monkeypatch):
    """Point ``braze_default`` at the sandbox; returns a function to change extras or the key."""

    def configure(password: str = TEST_API_KEY, **extra) -> None:
        conn = {"conn_type": "braze", "host": sandbox.url, "password": password, "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_BRAZE_DEFAULT", json.dumps(conn))

    configure()
    return configure
