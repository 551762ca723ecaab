"""OpenLineage of exports: the source read and the Braze workspace written (optional extra)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_braze.operators import BrazeTrackUsersOperator

pytest.importorskip("airflow.providers.openlineage", reason="the openlineage extra is not installed")


@pytest.fixture(autouse=True)
def braze_connection(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_BRAZE_DEFAULT", json.dumps({"conn_type": "braze", "host": "EU-01", "password": "x" * 12})
    )


def test_sql_export_reads_the_queried_tables_and_writes_the_braze_endpoint(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "w.db")}))
    operator = BrazeTrackUsersOperator(
        task_id="t",
        sql="select c.external_id, p.plan from customers c join plans p using (plan_id)",
        sql_conn_id="warehouse",
    )
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert sorted(d.name for d in lineage.inputs) == ["customers", "plans"]
    assert {d.namespace for d in lineage.inputs} == {f"sqlite://{tmp_path / 'w.db'}"}
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("braze://rest.fra-01.braze.eu", "users/track")]


def test_file_export_reads_the_file(tmp_path):
    operator = BrazeTrackUsersOperator(task_id="t", record_type="events", path="s3://bucket/exports/events.csv")
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("s3://bucket", "exports/events.csv")]
