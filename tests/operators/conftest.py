"""Fixtures for the Ketch operators: Ketch -> receiver -> state store -> operator -> Braze sandbox, on loopback.

The Ketch sandbox sends real webhooks to the provider's receiver, which stores them in the SQLite state store
``ketch_default`` points at; ``braze_default`` points at the Braze sandbox.
"""

from __future__ import annotations

import pytest

from tests.helpers.ketch import GROUPS, ketch_sending_to


@pytest.fixture
def ketch(store, state_url, monkeypatch):
    """A Ketch sandbox sending to a real receiver over ``store``; ``ketch_default`` points at the store."""
    with ketch_sending_to(store, "axonic", state_url) as (sandbox, conn):
        monkeypatch.setenv("AIRFLOW_CONN_KETCH_DEFAULT", conn)
        yield sandbox


@pytest.fixture
def braze(sandbox, braze_conn):
    """The Braze sandbox with the subscription groups of :data:`GROUPS` registered."""
    for channels in GROUPS.values():
        for channel, group in channels.items():
            sandbox.add_subscription_group(group, channel=channel)
    return sandbox
