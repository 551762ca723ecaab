"""Fixtures for the state store tests: each runs on SQLite, and on PostgreSQL when `make test` provides one."""

from __future__ import annotations

import os

import pytest

from airflow_provider_braze.state import KetchEventStore, create_state_engine
from airflow_provider_braze.state.schema import metadata
from tests.helpers.secrets import POSTGRES_ENV


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path):
    """A SQLAlchemy URL of an empty state store: a SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL store tests need {POSTGRES_ENV}=postgresql+psycopg://user:pass@127.0.0.1:5432/db")
    engine = create_state_engine(url)
    metadata.drop_all(engine)
    engine.dispose()
    yield url
    engine = create_state_engine(url)
    metadata.drop_all(engine)
    engine.dispose()


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
