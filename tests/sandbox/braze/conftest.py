"""Fixtures for the Braze sandbox tests: one server per test module, wiped before every test."""

from __future__ import annotations

import pytest

from airflow_provider_braze.sandbox.braze import BrazeSandbox
from tests.helpers.braze_sandbox import BrazeClient, wait_for_fresh_window
from tests.helpers.secrets import SANDBOX_ALL_KEY as BRAZE_TEST_KEY
from tests.helpers.secrets import SANDBOX_TRACK_ONLY_KEY as BRAZE_TRACK_ONLY_KEY


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
