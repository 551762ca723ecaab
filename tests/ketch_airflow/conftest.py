"""Fixtures for the Airflow side of Ketch: a state store in a temporary folder and ``ketch_default`` pointing at it."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_braze.state import KetchEventStore
from tests.helpers.ketch import set_ketch_connection


@pytest.fixture
def state_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def ketch_conn(monkeypatch, state_url):
    """``ketch_default`` with its state store in ``tmp_path``; call the result to change fields or extras."""

    def configure(**fields: Any) -> None:
        extra = {"state_url": state_url, **fields.pop("extra", {})}
        set_ketch_connection(monkeypatch, extra=extra, **fields)

    configure()
    return configure


@pytest.fixture
def store(state_url):
    """The state store ``ketch_default`` points at, to put events in and check them."""
    s = KetchEventStore(state_url)
    s.ensure_schema()
    yield s
    s.dispose()
