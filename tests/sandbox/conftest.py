"""Fixtures for the Braze sandbox tests: one server per test module, wiped before every test."""

from __future__ import annotations

import math
import time

import pytest
import requests

from airflow_provider_braze.sandbox.braze import BrazeSandbox
from tests.conftest import SANDBOX_ALL_KEY as BRAZE_TEST_KEY
from tests.conftest import SANDBOX_TRACK_ONLY_KEY as BRAZE_TRACK_ONLY_KEY


class BrazeClient:
    """``requests`` against the sandbox with a bearer key, one keep-alive session."""

    def __init__(self, url: str, key: str | None = BRAZE_TEST_KEY) -> None:
        self.url = url
        self.session = requests.Session()
        if key is not None:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def post(self, path: str, body=None, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.post(self.url + path, json=body, **kwargs)

    def get(self, path: str, params=None, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.get(self.url + path, params=params, **kwargs)

    def track(self, **arrays) -> requests.Response:
        return self.post("/users/track", arrays)


@pytest.fixture(scope="module")
def braze_server():
    with BrazeSandbox(api_keys={BRAZE_TEST_KEY: None, BRAZE_TRACK_ONLY_KEY: {"users.track"}}, seed=7) as sandbox:
        yield sandbox


@pytest.fixture
def braze_sandbox(braze_server: BrazeSandbox) -> BrazeSandbox:
    """The module's sandbox, empty and with catalogue rate limits and no faults."""
    braze_server.reset()
    braze_server.rate_limits.clear_overrides()
    braze_server.store.subscription_group_registry.clear()
    braze_server.cdi.integrations.clear()
    braze_server.latency = 0.0
    return braze_server


@pytest.fixture
def braze(braze_sandbox: BrazeSandbox) -> BrazeClient:
    """A client of :func:`braze_sandbox` holding the all-permissions key."""
    client = BrazeClient(braze_sandbox.url)
    yield client
    client.session.close()


def wait_for_fresh_window(period: float, margin: float = 0.5) -> None:
    """Sleep past the end of a fixed rate-limit window when too little of it is left for a test."""
    left = math.floor(time.time() / period) * period + period - time.time()
    if left < margin:
        time.sleep(left + 0.01)


@pytest.fixture
def braze_client_for(braze_sandbox: BrazeSandbox):
    """Make clients with another key (or none): ``braze_client_for("some-key")``."""
    clients: list[BrazeClient] = []

    def make(key: str | None, url: str | None = None) -> BrazeClient:
        clients.append(BrazeClient(url or braze_sandbox.url, key))
        return clients[-1]

    yield make
    for client in clients:
        client.session.close()


@pytest.fixture
def fresh_window():
    """``fresh_window(period)``: make sure a test's requests fall into one rate-limit window."""
    return wait_for_fresh_window
