"""Fixtures for the Cloud Data Ingestion tests: one Braze sandbox per module, the connection pointing at it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_braze.sandbox.braze import BrazeSandbox
from tests.conftest import TEST_API_KEY

#: Retries stay quick in these tests: at most three attempts, waits of a fraction of a second.
FAST_RETRIES = {"max_attempts": 3, "max_retry_seconds": 5}


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


def set_braze_connection(monkeypatch, host: str, extra: dict[str, Any] | None = None) -> None:
    conn = {"conn_type": "braze", "host": host, "password": TEST_API_KEY, "extra": extra or {}}
    monkeypatch.setenv("AIRFLOW_CONN_BRAZE_DEFAULT", json.dumps(conn))


class FakeTaskInstance:
    """Stands in for ``context["ti"]``: keeps what the task pushed to XCom."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


@pytest.fixture
def context() -> dict[str, Any]:
    return {"ti": FakeTaskInstance()}


def sync_requests(sandbox: BrazeSandbox) -> list[int | None]:
    """Statuses of the sync requests the sandbox answered, in order."""
    return [r.status for r in sandbox.requests.records(endpoint="cdi/integrations/{integration_id}/sync")]
