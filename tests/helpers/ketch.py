"""Helpers for tests of the Airflow side of Ketch: its connection, stored webhooks, Braze subscription groups."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from airflow_provider_braze.ketch.events import normalise
from airflow_provider_braze.ketch.models import parse_request
from airflow_provider_braze.ketch.receiver import create_receiver_app
from airflow_provider_braze.sandbox.ketch import DeliveryRetry, KetchSandbox, UvicornThread
from airflow_provider_braze.state import KetchEventStore
from tests.helpers.ketch_payloads import TENANT
from tests.helpers.secrets import CALLBACK_TOKEN, TEST_API_KEY, TEST_KETCH_TOKEN

#: A local web API emulator address: plain http is allowed to loopback only.
WEB_API = "http://127.0.0.1:8086/web/v2"

#: The Braze subscription groups of the sync tests: Ketch topic -> channel -> group id.
GROUPS = {
    "newsletter": {"email": "grp-newsletter-email", "sms": "grp-newsletter-sms"},
    "offers": {"email": "grp-offers-email", "sms": "grp-offers-sms"},
}


def set_ketch_connection(monkeypatch, conn_id: str = "ketch_default", **fields: Any) -> None:
    """Define a Ketch connection through ``AIRFLOW_CONN_<ID>`` (no metadata database needed)."""
    conn = {"conn_type": "ketch", "login": TENANT, "password": TEST_KETCH_TOKEN, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def record(store: KetchEventStore, *bodies: dict) -> list[int]:
    """Store webhook bodies as the receiver does; returns their event ids."""
    ids = []
    for body in bodies:
        assert store.record_event(normalise(parse_request(body))) is True
        ids.append(store.get_event(body["metadata"]["uid"]).event_id)
    return ids


def seed_braze_users(braze, *, emails=(), external_ids=(), phones=()) -> None:
    """Profiles must exist in Braze before their subscription states can be set."""
    import requests

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


@contextlib.contextmanager
def ketch_sending_to(store: KetchEventStore, organization: str, state_url: str) -> Iterator[tuple[KetchSandbox, str]]:
    """A real receiver over ``store`` and the Ketch sandbox sending to it without retry pauses; yields the
    sandbox and the ``AIRFLOW_CONN_KETCH_DEFAULT`` value that points the Ketch hook at ``state_url``."""
    conn = {
        "conn_type": "ketch",
        "login": organization,
        "password": TEST_KETCH_TOKEN,
        "extra": {"state_url": state_url},
    }
    with (
        UvicornThread(create_receiver_app(store, TEST_KETCH_TOKEN), name="ketch-receiver") as receiver,
        KetchSandbox(
            receiver.url + "/ketch/webhook",
            TEST_KETCH_TOKEN,
            organization=organization,
            callback_token=CALLBACK_TOKEN,
            retry=DeliveryRetry(delay=0.0),
        ) as sandbox,
    ):
        yield sandbox, json.dumps(conn)
