"""The Ketch half of the demo: a webhook receiver and the Ketch sandbox sending it preference changes
and rights requests for the warehouse's customers."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import requests

from demo import services

#: Demo values, never real secrets.
DEMO_KETCH_TOKEN = "demo-ketch-webhook-token"
DEMO_CALLBACK_TOKEN = "demo-ketch-callback-token"
ORGANIZATION = "sandbox"


def start_services(state_db: Path) -> tuple[services.Service, services.Service]:
    """The receiver (storing into ``state_db``) and the Ketch sandbox sending to it."""
    env = {"KETCH_WEBHOOK_TOKEN": DEMO_KETCH_TOKEN, "KETCH_CALLBACK_TOKEN": DEMO_CALLBACK_TOKEN}
    receiver = services.start(
        "ketch-receiver",
        "airflow_provider_braze.ketch.receiver_cli",
        "--state-url",
        f"sqlite:///{state_db}",
        env=env,
        health="/ketch/health",
    )
    sandbox = services.start(
        "ketch-sandbox",
        "airflow_provider_braze.sandbox.ketch.cli",
        "--receiver-url",
        receiver.url,
        "--org",
        ORGANIZATION,
        env=env,
        health="/_sandbox/state",
    )
    return receiver, sandbox


def customer_emails(warehouse_db: Path) -> list[str]:
    """Emails of the customers still in Braze after the warehouse export (erased ones excluded)."""
    db = sqlite3.connect(warehouse_db)
    try:
        rows = db.execute(
            "select email from customers where external_id not in (select external_id from deletions)"
            " order by external_id"
        ).fetchall()
    finally:
        db.close()
    return [email for (email,) in rows]


def send_preference_changes(sandbox_url: str, emails: list[str], n_changes: int = 1000) -> dict[str, Any]:
    """1,000 random topic decisions by those customers, delivered out of order, some twice."""
    body = {
        "n_changes": n_changes,
        "identities": emails,
        "topics": ["newsletter", "offers"],
        "channels": ["email"],
        "duplicate_rate": 0.1,
        "seed": 7,
        "concurrency": 4,
    }
    return requests.post(f"{sandbox_url}/_sandbox/streams/random", json=body, timeout=300).json()


def send(sandbox_url: str, kind: str, **arguments: Any) -> dict[str, Any]:
    """One webhook from the Ketch sandbox (``subscription``, ``control``, ``delete``, ``access``,
    ``correction``, ``restriction``)."""
    response = requests.post(f"{sandbox_url}/_sandbox/send/{kind}", json=arguments, timeout=60)
    response.raise_for_status()
    return response.json()


def callbacks(sandbox_url: str, request_id: str) -> list[dict[str, Any]]:
    return requests.get(f"{sandbox_url}/_sandbox/callbacks/{request_id}", timeout=30).json().get("events", [])
