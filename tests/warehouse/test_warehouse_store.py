"""The warehouse ledger on each engine that runs here without an Airflow hook of its own (DuckDB)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from airflow_provider_braze.state.sync_ledger import Owner
from airflow_provider_braze.warehouse.plan_sql import PlanSpec
from airflow_provider_braze.warehouse.store import WarehouseLedger

COLUMNS = ("external_id", "plan", "score")


@pytest.fixture(params=["sqlite", "duckdb"])
def engine(request, tmp_path):
    if request.param == "duckdb":
        pytest.importorskip("duckdb_engine")
    url = f"sqlite:///{tmp_path / 'w.db'}" if request.param == "sqlite" else f"duckdb:///{tmp_path / 'w.duckdb'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE customers (external_id VARCHAR, plan VARCHAR, score INTEGER)")
        conn.exec_driver_sql("INSERT INTO customers VALUES ('u1', 'a', 1), ('u2', 'b', 2), ('u3', 'c', 3)")
    yield engine
    engine.dispose()


def plan_of(store: WarehouseLedger, run_id: str) -> tuple[object, PlanSpec]:
    run = store.open_run(
        "crm.profiles", endpoint="users/track", mode="attributes", run_id=run_id, owner=Owner("crm", "p")
    )
    layout = store.layout(run.sync_id, COLUMNS[1:], "settings")
    spec = PlanSpec(store.schema, run.run, run.sync_id, run.salt.hex(), COLUMNS, ("external_id",), layout)
    return run, spec


def test_only_rows_not_accepted_are_planned_again_after_a_merge(engine):
    store = WarehouseLedger(engine, "braze_sync")
    run, spec = plan_of(store, "r1")
    assert store.make_plan(spec, "SELECT * FROM customers") == {1: 3}
    rows = list(store.plan_rows(spec))
    assert sorted(r["external_id"] for r in rows) == ["u1", "u2", "u3"]
    store.record_marks(run, [(r["braze_seq"], r["braze_seq"]) for r in rows if r["external_id"] != "u3"])
    assert store.merge_plan(spec.sync_id, spec.run, spec.layout) == 2
    store.finish_run(run, "success", {"accepted": 2})

    _, again = plan_of(store, "r2")
    assert store.make_plan(again, "SELECT * FROM customers") == {0: 2, 1: 1}
    assert [r["external_id"] for r in store.plan_rows(again)] == ["u3"]


def test_a_plan_left_by_a_killed_attempt_is_merged_by_the_next_run(engine):
    store = WarehouseLedger(engine, "braze_sync")
    run, spec = plan_of(store, "r1")
    store.make_plan(spec, "SELECT * FROM customers")
    first = next(iter(store.plan_rows(spec)))
    store.record_marks(run, [(first["braze_seq"], first["braze_seq"])])  # then the attempt dies

    assert store.merge_left_plans(spec.sync_id, "") == 1
    _, again = plan_of(store, "r2")
    assert store.make_plan(again, "SELECT * FROM customers") == {0: 1, 1: 2}
    assert store.users_left(again) == 0
