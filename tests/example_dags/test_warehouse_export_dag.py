"""The warehouse export DAG, through `airflow dags test`: Braze ends up holding what the rows say."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest

from demo import warehouse


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    return warehouse.seed(tmp_path_factory.mktemp("warehouse") / "warehouse.db")


@pytest.fixture
def run_export(run_dag, sample_db, airflow_home):
    def run(logical_date: str):
        return run_dag(
            "example_braze_warehouse_export",
            logical_date,
            AIRFLOW_CONN_BRAZE_DEMO_WAREHOUSE=json.dumps({"conn_type": "sqlite", "host": str(sample_db)}),
        )

    return run


def rows(db_path, sql: str, *args) -> list[dict]:
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(sql, args)]
    finally:
        db.close()


WINDOW = ("2026-11-18T00:00:00+00:00", "2026-11-19T00:00:00+00:00")


def test_one_day_run_leaves_braze_holding_exactly_that_days_rows(run_export, dag_sandbox, sample_db, airflow_home):
    run_export("2026-11-19")
    store = dag_sandbox.store
    start, end = WINDOW

    customers = rows(sample_db, "select * from customers where updated_at >= ? and updated_at < ?", start, end)
    events = rows(sample_db, "select * from app_events where time >= ? and time < ?", start, end)
    orders = rows(
        sample_db, "select * from orders where time >= ? and time < ? and product_id not like 'invalid-%'", start, end
    )
    held = {u.external_id: u for u in store.users() if u.external_id}
    # Attributes, events and purchases each create the profile they name.
    assert set(held) == {r["external_id"] for r in customers + events + orders}
    for c in customers:
        user = held[c["external_id"]]
        assert user.email == c["email"]
        assert (user.attributes["first_name"], user.attributes["last_name"]) == (c["first_name"], c["last_name"])
        assert user.attributes["country"] == c["country"] and user.attributes["dob"] == c["dob"]
        assert user.custom_attributes == {
            "plan": c["plan"],
            "lifetime_value": c["lifetime_value"],
            "tags": json.loads(c["tags"]),
            "address": json.loads(c["address"]),
        }

    assert Counter((e["external_id"], e["name"], json.loads(e["properties"])["screen"]) for e in events) == Counter(
        (e["external_id"], e["name"], e["properties"]["screen"]) for e in store.events()
    )

    assert Counter(
        (o["external_id"], o["product_id"], o["currency"], o["price"], o["quantity"]) for o in orders
    ) == Counter(
        (p["external_id"], p["product_id"], p["currency"], p["price"], p["quantity"]) for p in store.purchases()
    )

    leads = rows(sample_db, "select * from crm_aliases where created_at >= ? and created_at < ?", start, end)
    alias_only = {name for u in store.users() if not u.external_id for label, name in u.aliases.items()}
    assert alias_only == {lead["alias_name"] for lead in leads}

    # The attributes task's outlet recorded an asset event for downstream DAGs.
    meta = sqlite3.connect(airflow_home / "airflow.db")
    events = meta.execute(
        "select count(*) from asset_event e join asset a on a.id = e.asset_id where a.uri = 'braze://demo/users/attributes'"
    ).fetchone()[0]
    meta.close()
    assert events >= 1

    # The invalid order of that day was skipped and reported with its reason.
    rejected = airflow_home / "braze_rejected" / "2026-11-19" / "purchases.jsonl"
    (line,) = [json.loads(x) for x in rejected.read_text().splitlines()]
    assert line["column"] == "currency" and "ZZZ" in line["reason"]


def test_backfill_of_three_days_sends_each_row_once_and_applies_identify_and_delete(run_export, dag_sandbox, sample_db):
    for day in ("2026-11-19", "2026-11-20", "2026-11-21"):
        run_export(day)
    store = dag_sandbox.store

    # Each source row went to Braze exactly once across the three windows.
    assert len(store.events()) == len(
        rows(sample_db, "select * from app_events where external_id not in (select external_id from deletions)")
    )
    track_objects = sum(r.objects for r in dag_sandbox.requests.records(endpoint="users/track", status=201))
    expected_objects = sum(
        len(rows(sample_db, f"select 1 from {table}{where}"))
        for table, where in (
            ("customers", ""),
            ("app_events", ""),
            ("orders", " where product_id not like 'invalid-%'"),
        )
    )
    assert track_objects == expected_objects

    # Identify: every signup merged its lead's alias-only profile.
    for ident in rows(sample_db, "select * from identifications"):
        user = store.find_user(external_id=ident["external_id"])
        assert user is not None and user.aliases.get(ident["alias_label"]) == ident["alias_name"]
    # Delete: every erased customer is gone, with their events and purchases.
    erased = {r["external_id"] for r in rows(sample_db, "select external_id from deletions")}
    assert erased and erased == {d["external_id"] for d in store.deleted()}
    assert not erased & {u.external_id for u in store.users()}
    assert not erased & {e["external_id"] for e in store.events()}
