"""Fixtures for the state store tests: each runs on SQLite, and on PostgreSQL when `make test` provides one."""

from __future__ import annotations

import pytest

from airflow_provider_braze.state import KetchEventStore
from tests.helpers.postgres import empty_postgres_store


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path):
    """A SQLAlchemy URL of an empty state store: a SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    with empty_postgres_store() as url:
        yield url


@pytest.fixture
def store(state_url):
    """The Ketch event store over ``state_url``, its tables not yet created."""
    s = KetchEventStore(state_url)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(tmp_path):
    s = KetchEventStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.dispose()
