"""The PostgreSQL test database as an empty state store, for tests that run on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from airflow_provider_braze.state import create_state_engine
from airflow_provider_braze.state.schema import metadata
from tests.helpers.secrets import POSTGRES_ENV


@contextlib.contextmanager
def empty_postgres_store() -> Iterator[str]:
    """The URL of the PostgreSQL test database with no state store tables, dropped again afterwards;
    skips the test when `make test` provides no PostgreSQL."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL store tests need {POSTGRES_ENV}=postgresql+psycopg://user:pass@127.0.0.1:5432/db")
    engine = create_state_engine(url)
    metadata.drop_all(engine)
    try:
        yield url
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def postgres_connection(url: str | None = None) -> dict[str, Any]:
    """The Airflow ``postgres`` connection fields of the PostgreSQL test database (the URL `make test`
    provides, or ``url``); skips the test when there is none."""
    url = url or os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"needs {POSTGRES_ENV}=postgresql://user:pass@127.0.0.1:5432/db")
    parts = urlsplit(url)
    return {
        "conn_type": "postgres",
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "login": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "schema": parts.path.lstrip("/"),
    }
