"""Run example DAGs the way a user does: `airflow dags test` in a migrated Airflow home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_braze.sandbox.braze import BrazeSandbox
from tests.helpers.example_dags import DAGS
from tests.helpers.secrets import SECRETS, TEST_API_KEY


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> Path:
    """A fresh Airflow home with a migrated SQLite metadata database (about 3 s, once)."""
    home = tmp_path_factory.mktemp("airflow_home")
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=_airflow_env(home),
        check=True,
        capture_output=True,
        timeout=300,
    )
    return home


def _airflow_env(home: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        **extra,
    }


@pytest.fixture(scope="session")
def dag_sandbox():
    with BrazeSandbox(api_keys={TEST_API_KEY: None}, seed=3) as sandbox:
        yield sandbox


@pytest.fixture
def run_dag(airflow_home, dag_sandbox):
    """``run_dag(dag_id, logical_date=None, **env)`` runs `airflow dags test` against an emptied sandbox."""

    def run(
        dag_id: str, logical_date: str | None = None, *, expect_success: bool = True, **extra_env: str
    ) -> subprocess.CompletedProcess:
        braze_conn = json.dumps({"conn_type": "braze", "host": dag_sandbox.url, "password": TEST_API_KEY})
        env = _airflow_env(airflow_home, **{"AIRFLOW_CONN_BRAZE_DEFAULT": braze_conn, **extra_env})
        done = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", dag_id, *([logical_date] if logical_date else [])],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        output = done.stdout + done.stderr
        assert not [s for s in SECRETS if s in output], "a secret leaked into the task log"
        if expect_success:
            assert done.returncode == 0, output[-6000:]
        return done

    dag_sandbox.reset()
    # The sync ledger remembers what earlier tests exported; each test starts with an empty one.
    for path in airflow_home.glob("braze_provider_state.db*"):
        path.unlink()
    return run
