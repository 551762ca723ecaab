"""The sync history app as the API server serves it: mounted at ``/braze``, behind Airflow's auth manager.

Tokens are made and checked by Airflow's simple auth manager; checking one consults Airflow's metadata
database (revoked tokens), so the tests point Airflow at a freshly migrated one of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from airflow_provider_braze.operators import BrazeTrackUsersOperator

#: The JWT secret of these tests' auth manager (not a Braze secret: it signs test tokens only).
JWT_SECRET = "ui-tests-jwt-secret-5be1" * 4

#: The attribute rows of the first run: two refused before sending, one with personal data in its reason.
CUSTOMERS = [
    {"external_id": "u-1", "plan": "pro", "city": "Lyon"},
    {"external_id": "u-2", "dob": "not a date"},
    {"external_id": "u-3", "plan": "free"},
    {"external_id": "u-4", "dob": "ana.lopez@example.com"},
    {"external_id": "u-5", "plan": "pro"},
]
PURCHASES = [
    {"external_id": f"u-{i}", "product_id": f"sku-{i}", "currency": "USD", "price": 1, "time": "2026-11-01T00:00:00Z"}
    for i in range(4)
]


@pytest.fixture(scope="session")
def metadata_db(tmp_path_factory):
    """Airflow's ORM pointed at a migrated SQLite metadata database of its own, for this session's UI tests;
    returns the database file."""
    from airflow import settings

    home = tmp_path_factory.mktemp("airflow_metadata")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
    )
    before = settings.SQL_ALCHEMY_CONN
    settings.dispose_orm(do_log=False)
    settings.SQL_ALCHEMY_CONN = f"sqlite:///{home / 'airflow.db'}"
    settings.configure_orm()
    yield home / "airflow.db"
    settings.dispose_orm(do_log=False)
    settings.SQL_ALCHEMY_CONN = before
    settings.configure_orm()


@pytest.fixture
def auth_manager(metadata_db, monkeypatch, tmp_path):
    """Airflow's simple auth manager with one viewer, ``ana`` (not all-admins mode)."""
    from airflow.api_fastapi.app import _AuthManagerState, create_auth_manager

    monkeypatch.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER", "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    )
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "ana:viewer")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(tmp_path / "passwords.json"))
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", JWT_SECRET)
    _AuthManagerState.instance = None
    yield create_auth_manager()
    _AuthManagerState.instance = None


@pytest.fixture
def token(auth_manager) -> str:
    """A JWT for the viewer ``ana``, as ``POST /auth/token`` hands out."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return auth_manager.generate_jwt(SimpleAuthManagerUser(username="ana", role="viewer"))


def _mounted() -> FastAPI:
    from airflow_provider_braze.ui.plugin import URL_PREFIX, LazySyncHistoryApp

    app = FastAPI()
    app.mount(URL_PREFIX, LazySyncHistoryApp())  # as Airflow's init_plugins mounts it
    return app


@pytest.fixture
def anonymous(auth_manager) -> TestClient:
    """A client without credentials."""
    return TestClient(_mounted())


@pytest.fixture
def client(token) -> TestClient:
    """A client logged in as the UI is: the JWT in the ``_token`` cookie."""
    return TestClient(_mounted(), cookies={"_token": token})


@pytest.fixture
def api(token) -> TestClient:
    """A client as scripts are: the JWT as a bearer token."""
    return TestClient(_mounted(), headers={"Authorization": f"Bearer {token}"})


def export(run_id: str, **kwargs):
    """Run an export as a task run of DAG run ``run_id`` (the ledger keys runs on it)."""
    kwargs.setdefault("skip_on_invalid_records", True)
    return BrazeTrackUsersOperator(**kwargs).execute(context={"run_id": run_id})


@pytest.fixture
def ledger(sandbox, braze_conn):
    """A ledger filled by real exports to the sandbox: ``warehouse.customers`` (attributes) run twice, the
    second with nothing changed, and ``warehouse.purchases``, two of whose four rows Braze rejects."""
    first = export(
        "scheduled__2026-11-20",
        task_id="customers",
        sync_key="warehouse.customers",
        records=CUSTOMERS,
        only_changed=True,
    )
    second = export(
        "scheduled__2026-11-21",
        task_id="customers",
        sync_key="warehouse.customers",
        records=[CUSTOMERS[0], CUSTOMERS[2], CUSTOMERS[4]],
        only_changed=True,
    )
    sandbox.settings.max_product_ids = 2
    purchases = export(
        "scheduled__2026-11-21",
        task_id="purchases",
        sync_key="warehouse.purchases",
        record_type="purchases",
        records=PURCHASES,
    )
    return {"first": first, "second": second, "purchases": purchases}
