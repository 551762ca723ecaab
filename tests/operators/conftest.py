"""Fixtures for the Ketch operators: Ketch -> receiver -> state store -> operator -> Braze sandbox, on loopback.

The Ketch sandbox sends real webhooks to the provider's receiver, which stores them in the SQLite state store
``ketch_default`` points at; ``braze_default`` points at the Braze sandbox.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_braze.ketch.receiver import create_receiver_app
from airflow_provider_braze.sandbox.ketch import DeliveryRetry, KetchSandbox, UvicornThread
from tests.helpers.ketch import GROUPS
from tests.helpers.secrets import CALLBACK_TOKEN, TEST_KETCH_TOKEN


@pytest.fixture
def ketch(store, state_url, monkeypatch):
    """A Ketch sandbox sending to a real receiver over ``store``; ``ketch_default`` points at the store."""
    conn = {"conn_type": "ketch", "login": "axonic", "password": TEST_KETCH_TOKEN, "extra": {"state_url": state_url}}
    monkeypatch.setenv("AIRFLOW_CONN_KETCH_DEFAULT", json.dumps(conn))
    with (
        UvicornThread(create_receiver_app(store, TEST_KETCH_TOKEN), name="ketch-receiver") as receiver,
        KetchSandbox(
            receiver.url + "/ketch/webhook",
            TEST_KETCH_TOKEN,
            organization="axonic",
            callback_token=CALLBACK_TOKEN,
            retry=DeliveryRetry(delay=0.0),
        ) as sandbox,
    ):
        yield sandbox


@pytest.fixture
def braze(sandbox, braze_conn):
    """The Braze sandbox with the subscription groups of :data:`GROUPS` registered."""
    for channels in GROUPS.values():
        for channel, group in channels.items():
            sandbox.add_subscription_group(group, channel=channel)
    return sandbox
