"""Helpers for tests of the Braze client core and the Braze hook."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers.secrets import TEST_API_KEY

#: A Braze REST endpoint host, as a connection names it.
BASE = "https://rest.iad-03.braze.com"

#: Retries stay quick in the Cloud Data Ingestion tests: at most three attempts, waits of a fraction of a second.
FAST_RETRIES = {"max_attempts": 3, "max_retry_seconds": 5}


class SleepRecorder:
    """Stands in for ``time.sleep``: remembers each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def set_braze_connection(monkeypatch, host: str, extra: dict[str, Any] | None = None) -> None:
    """Define ``braze_default`` through ``AIRFLOW_CONN_BRAZE_DEFAULT`` (no metadata database needed)."""
    conn = {"conn_type": "braze", "host": host, "password": TEST_API_KEY, "extra": extra or {}}
    monkeypatch.setenv("AIRFLOW_CONN_BRAZE_DEFAULT", json.dumps(conn))


def sync_requests(sandbox) -> list[int | None]:
    """Statuses of the Cloud Data Ingestion sync requests the sandbox answered, in order."""
    return [r.status for r in sandbox.requests.records(endpoint="cdi/integrations/{integration_id}/sync")]
