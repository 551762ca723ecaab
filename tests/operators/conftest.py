"""Fixtures for running export operators directly against the sandbox."""

from __future__ import annotations

import json
import sqlite3

import pytest


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    """A SQLite database behind the Airflow connection ``warehouse``; returns a sqlite3 connection."""
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    db = sqlite3.connect(path)
    yield db
    db.close()
