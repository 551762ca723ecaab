"""Fixtures for the Ketch tests: the event store over ``state_url`` (SQLite, and PostgreSQL when provided)."""

from __future__ import annotations

import pytest

from airflow_provider_braze.state import KetchEventStore


@pytest.fixture
def store(state_url):
    s = KetchEventStore(state_url)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(tmp_path):
    s = KetchEventStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.dispose()
