"""Fixtures for the Cloud Data Ingestion tests: one Braze sandbox per module, the connection pointing at it."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_braze.sandbox.braze import BrazeSandbox
from tests.helpers.airflow import FakeTaskInstance
from tests.helpers.braze import FAST_RETRIES, set_braze_connection
from tests.helpers.secrets import TEST_API_KEY


@pytest.fixture(scope="module")
def sandbox_server():
    with BrazeSandbox(api_keys={TEST_API_KEY: None}, port=0) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_server: BrazeSandbox, monkeypatch) -> BrazeSandbox:
    """The module's sandbox, emptied, and ``braze_default`` pointing at it."""
    sandbox_server.reset()
    sandbox_server.rate_limits.clear_overrides()
    sandbox_server.cdi.integrations.clear()
    sandbox_server.latency = 0.0
    set_braze_connection(monkeypatch, sandbox_server.url, extra=FAST_RETRIES)
    return sandbox_server


@pytest.fixture
def context() -> dict[str, Any]:
    return {"ti": FakeTaskInstance()}
