"""Fixtures for the Airflow side of Ketch: a state store in a temporary folder and ``ketch_default`` pointing at it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_braze.ketch.events import normalise
from airflow_provider_braze.ketch.models import parse_request
from airflow_provider_braze.state import KetchEventStore
from tests.conftest import TEST_KETCH_TOKEN
from tests.ketch.ketch_payloads import TENANT

#: A local web API emulator address: plain http is allowed to loopback only.
WEB_API = "http://127.0.0.1:8086/web/v2"


def set_ketch_connection(monkeypatch, conn_id: str = "ketch_default", **fields: Any) -> None:
    """Define a Ketch connection through ``AIRFLOW_CONN_<ID>`` (no metadata database needed)."""
    conn = {"conn_type": "ketch", "login": TENANT, "password": TEST_KETCH_TOKEN, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


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


def record(store: KetchEventStore, *bodies: dict) -> list[int]:
    """Store webhook bodies as the receiver does; returns their event ids."""
    ids = []
    for body in bodies:
        assert store.record_event(normalise(parse_request(body))) is True
        ids.append(store.get_event(body["metadata"]["uid"]).event_id)
    return ids
