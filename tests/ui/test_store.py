"""Which state store the pages read: the embedded SQLite file, or the connection in ``[braze] state_conn_id``."""

from __future__ import annotations

import json

from tests.helpers.ui import CUSTOMERS, export


def test_the_configured_connection_s_store_is_the_one_shown(client, sandbox, braze_conn, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ledger.db")})
    )
    export("r1", task_id="t", sync_key="in.the.shared.store", records=CUSTOMERS, state_conn_id="ledger_db")
    before = client.get("/braze/syncs").text

    monkeypatch.setenv("AIRFLOW__BRAZE__STATE_CONN_ID", "ledger_db")  # read at each request: no restart
    after = client.get("/braze/syncs").text

    assert "in.the.shared.store" not in before and "holds no sync yet" in before
    assert "in.the.shared.store" in after and "connection &#39;ledger_db&#39;" in after
    assert str(tmp_path) not in after  # which store, never where it is


def test_a_connection_that_does_not_exist_is_a_503_naming_the_option(client, api, monkeypatch):
    monkeypatch.setenv("AIRFLOW__BRAZE__STATE_CONN_ID", "no_such_conn")

    page, answer = client.get("/braze/syncs"), api.get("/braze/api/syncs")

    assert page.status_code == answer.status_code == 503
    assert answer.json() == {"detail": "the state store's connection ([braze] state_conn_id) does not exist"}
