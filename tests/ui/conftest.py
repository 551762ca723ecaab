"""The sync history app as the API server serves it: mounted at ``/braze``, behind Airflow's auth manager.

Tokens are made and checked by Airflow's simple auth manager; checking one consults Airflow's metadata
database (revoked tokens), so the tests point Airflow at a freshly migrated one of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from tests.helpers.ui import CUSTOMERS, JWT_SECRET, PURCHASES, export, mounted_app


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


@pytest.fixture
def anonymous(auth_manager) -> TestClient:
    """A client without credentials."""
    return TestClient(mounted_app())


@pytest.fixture
def client(token) -> TestClient:
    """A client logged in as the UI is: the JWT in the ``_token`` cookie."""
    return TestClient(mounted_app(), cookies={"_token": token})


@pytest.fixture
def api(token) -> TestClient:
    """A client as scripts are: the JWT as a bearer token."""
    return TestClient(mounted_app(), headers={"Authorization": f"Bearer {token}"})


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
