"""Ketch -> receiver -> state store -> sync operator -> Braze sandbox, all on loopback.

The Ketch sandbox sends real webhooks to the provider's receiver, which stores them in a SQLite state
store that ``ketch_default`` points at; ``braze_default`` points at the Braze sandbox.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_braze.ketch.receiver import create_receiver_app
from airflow_provider_braze.sandbox.ketch import DeliveryRetry, KetchSandbox, UvicornThread
from airflow_provider_braze.state import KetchEventStore
from tests.conftest import CALLBACK_TOKEN, TEST_KETCH_TOKEN

GROUPS = {
    "newsletter": {"email": "grp-newsletter-email", "sms": "grp-newsletter-sms"},
    "offers": {"email": "grp-offers-email", "sms": "grp-offers-sms"},
}


@pytest.fixture
def state_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ketch_state.db'}"


@pytest.fixture
def store(state_url):
    s = KetchEventStore(state_url)
    s.ensure_schema()
    yield s
    s.dispose()


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


def seed_braze_users(braze, *, emails=(), external_ids=(), phones=()) -> None:
    """Profiles must exist in Braze before their subscription states can be set."""
    import requests

    from tests.conftest import TEST_API_KEY

    objects = [{"external_id": f"seed-{e}", "email": e} for e in emails]
    objects += [{"external_id": x} for x in external_ids]
    objects += [{"external_id": f"seed-{p}", "phone": p} for p in phones]
    for i in range(0, len(objects), 75):
        response = requests.post(
            f"{braze.url}/users/track",
            json={"attributes": objects[i : i + 75]},
            headers={"Authorization": f"Bearer {TEST_API_KEY}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
