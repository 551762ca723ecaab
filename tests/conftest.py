"""Fixtures shared by the whole suite.

Every test runs with a log handler that sees every record at DEBUG level; a test fails if any record
contains the API key or bearer token used in tests, so a leak anywhere is caught where it happens.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sqlite3
import sys
from typing import Any

import pytest

from airflow_provider_braze.state import KetchEventStore
from airflow_provider_braze.state.placement import container_evidence
from tests.helpers.airflow import FakeTaskInstance
from tests.helpers.braze import FAST_RETRIES, set_braze_connection
from tests.helpers.ketch import set_ketch_connection
from tests.helpers.secrets import SECRETS, TEST_API_KEY, TRACK_ONLY_KEY

# Airflow must not look for a metadata database or example DAGs in unit tests.
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


class _RecordAll(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(f"{record.name}: {record.getMessage()}")
        except Exception:  # noqa: BLE001 - a badly formatted record is still checked by its template
            self.lines.append(f"{record.name}: {record.msg}")


@pytest.fixture(autouse=True)
def no_secret_in_output(request):
    """Fail the test if a secret was printed: Airflow's task SDK logs through structlog straight to
    stdout, which no logging handler sees. The output is printed again so pytest still shows it."""
    # A test may capture output itself; pytest allows one capture fixture per test.
    name = next((n for n in ("capsys", "capfd") if n in request.fixturenames), "capfd")
    capture = request.getfixturevalue(name)
    yield
    out, err = capture.readouterr()
    sys.stdout.write(out)
    sys.stderr.write(err)
    leaked = [secret for secret in SECRETS if secret in out or secret in err]
    assert not leaked, "a test secret was printed to stdout/stderr"


@pytest.fixture(autouse=True)
def no_secret_in_logs():
    """Fail the test if any log record mentions a test secret."""
    handler = _RecordAll()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    leaked = [line for line in handler.lines if any(secret in line for secret in SECRETS)]
    assert not leaked, f"secret found in log lines: {leaked[:3]}"


@pytest.fixture(autouse=True)
def own_state_store(tmp_path_factory, monkeypatch):
    """Each test gets its own embedded state store: the sync ledger's default SQLite file lives under
    ``AIRFLOW_HOME``, and two tests exporting with the same task id must not see each other's runs.
    Returns that home."""
    home = tmp_path_factory.mktemp("airflow_home")
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    # Every export of the suite runs on this machine, so the embedded store is right for it; the tests of
    # the refusal (tests/operators/test_export_placement.py) set the executor and the container themselves.
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    if container_evidence(str(home)):  # CI in a container whose own filesystem holds the temporary homes
        monkeypatch.setenv("AIRFLOW__BRAZE__ALLOW_LOCAL_STATE", "True")
    return home


# --- the state stores: SQLite here; the tests of state/ also run on PostgreSQL (tests/state/conftest.py) ---


@pytest.fixture
def state_url(tmp_path) -> str:
    """A SQLAlchemy URL of an empty state store in a SQLite file."""
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def store(state_url):
    """The Ketch event store at ``state_url``, its tables created, to put webhooks in and check them."""
    s = KetchEventStore(state_url)
    s.ensure_schema()
    yield s
    s.dispose()


@pytest.fixture
def ketch_conn(monkeypatch, state_url):
    """``ketch_default`` with its state store at ``state_url``; call the result to change fields or extras."""

    def configure(**fields: Any) -> None:
        extra = {"state_url": state_url, **fields.pop("extra", {})}
        set_ketch_connection(monkeypatch, extra=extra, **fields)

    configure()
    return configure


# --- a Braze sandbox shared by the session, and an Airflow connection pointing at it ---------------


_SESSION_SETTINGS: dict[int, object] = {}


@pytest.fixture(scope="session")
def braze_server():
    from airflow_provider_braze.sandbox.braze import BrazeSandbox

    with BrazeSandbox(api_keys={TEST_API_KEY: None, TRACK_ONLY_KEY: {"users.track"}}, seed=11) as sandbox:
        _SESSION_SETTINGS[id(sandbox)] = copy.copy(sandbox.settings)
        yield sandbox


@pytest.fixture
def sandbox(braze_server):
    """The shared sandbox, emptied, with Braze's own rate limits and no faults."""
    braze_server.reset()
    # Settings a test changed (max_product_ids, array_max_length ...) go back to how the session began.
    for name, value in vars(_SESSION_SETTINGS[id(braze_server)]).items():
        setattr(braze_server.settings, name, value)
    braze_server.rate_limits.clear_overrides()
    braze_server.store.subscription_group_registry.clear()
    braze_server.cdi.integrations.clear()
    braze_server.latency = 0.0
    return braze_server


@pytest.fixture
def braze_conn(sandbox, monkeypatch):
    """Point ``braze_default`` at the sandbox; call the result to change extras or the key."""

    def configure(password: str = TEST_API_KEY, **extra) -> None:
        conn = {"conn_type": "braze", "host": sandbox.url, "password": password, "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_BRAZE_DEFAULT", json.dumps(conn))

    configure()
    return configure


@pytest.fixture(scope="module")
def cdi_sandbox_server():
    """A Braze sandbox of the test module's own, for the Cloud Data Ingestion tests."""
    from airflow_provider_braze.sandbox.braze import BrazeSandbox

    with BrazeSandbox(api_keys={TEST_API_KEY: None}, port=0) as sandbox:
        yield sandbox


@pytest.fixture
def cdi_sandbox(cdi_sandbox_server, monkeypatch):
    """The module's CDI sandbox, emptied, and ``braze_default`` pointing at it with quick retries."""
    cdi_sandbox_server.reset()
    cdi_sandbox_server.rate_limits.clear_overrides()
    cdi_sandbox_server.cdi.integrations.clear()
    cdi_sandbox_server.latency = 0.0
    set_braze_connection(monkeypatch, cdi_sandbox_server.url, extra=FAST_RETRIES)
    return cdi_sandbox_server


@pytest.fixture
def context() -> dict[str, Any]:
    """A task's context with a task instance that keeps what the task pushes to XCom."""
    return {"ti": FakeTaskInstance()}


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    """A SQLite database behind the Airflow connection ``warehouse``; returns a sqlite3 connection."""
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    db = sqlite3.connect(path)
    yield db
    db.close()
