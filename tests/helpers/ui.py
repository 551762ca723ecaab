"""What the sync history tests export and how they mount the app."""

from __future__ import annotations

from fastapi import FastAPI

from airflow_provider_braze.operators import BrazeTrackUsersOperator

#: The JWT secret of these tests' auth manager (not a Braze secret: it signs test tokens only).
JWT_SECRET = "ui-tests-jwt-secret-5be1" * 4

#: The attribute rows of the first run: two refused before sending, one with personal data in its reason.
CUSTOMERS = [
    {"external_id": "u-1", "plan": "pro", "city": "Lyon"},
    {"external_id": "u-2", "dob": "not a date"},
    {"external_id": "u-3", "plan": "free"},
    {"external_id": "u-4", "dob": "ana.lopez@example.com"},
    {"external_id": "u-5", "plan": "pro"},
]
PURCHASES = [
    {"external_id": f"u-{i}", "product_id": f"sku-{i}", "currency": "USD", "price": 1, "time": "2026-11-01T00:00:00Z"}
    for i in range(4)
]


def mounted_app() -> FastAPI:
    """The sync history app mounted at its URL prefix, as Airflow's ``init_plugins`` mounts it."""
    from airflow_provider_braze.ui.plugin import URL_PREFIX, LazySyncHistoryApp

    app = FastAPI()
    app.mount(URL_PREFIX, LazySyncHistoryApp())  # as Airflow's init_plugins mounts it
    return app


def export(run_id: str, **kwargs):
    """Run an export as a task run of DAG run ``run_id`` (the ledger keys runs on it)."""
    kwargs.setdefault("skip_on_invalid_records", True)
    return BrazeTrackUsersOperator(**kwargs).execute(context={"run_id": run_id})
