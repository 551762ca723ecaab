"""The "Braze sync run" extra link: from a task instance of an export to its run in the sync history."""

from __future__ import annotations

from airflow.models.taskinstancekey import TaskInstanceKey

from airflow_provider_braze.operators import BrazeIdentifyUsersOperator, BrazeTrackUsersOperator
from airflow_provider_braze.operators.export_base import BrazeExportBaseOperator
from airflow_provider_braze.provider_info import get_provider_info
from airflow_provider_braze.ui.links import BrazeSyncRunLink
from tests.helpers.ui import CUSTOMERS
from tests.ui.test_views import run_ids

ROWS = [{"external_id": "u-1", "plan": "pro"}]


def key(run_id: str = "scheduled__2026-11-21", map_index: int = -1) -> TaskInstanceKey:
    return TaskInstanceKey("adhoc_airflow", "customers", run_id, 1, map_index)


def test_every_export_operator_has_the_link_and_the_provider_registers_it():
    names = [link.name for link in BrazeExportBaseOperator.operator_extra_links]

    assert names == ["Braze sync run"]
    assert "airflow_provider_braze.ui.links.BrazeSyncRunLink" in get_provider_info()["extra-links"]


def test_the_link_of_a_task_instance_opens_its_run_page(client, ledger):
    operator = BrazeTrackUsersOperator(task_id="customers", sync_key="warehouse.customers", records=CUSTOMERS)
    link = BrazeSyncRunLink().get_link(operator, ti_key=key())
    page = client.get(link)

    assert link == "/braze/syncs/warehouse.customers/task-run?run_id=scheduled__2026-11-21"
    assert page.status_code == 200
    assert str(page.url).endswith(
        f"/braze/syncs/warehouse.customers/runs/{run_ids('warehouse.customers')['scheduled__2026-11-21']}"
    )
    assert "Run scheduled__2026-11-21" in page.text


def test_a_mapped_task_s_link_names_its_map_index_and_the_default_sync_key(client, sandbox, braze_conn):
    operator = BrazeTrackUsersOperator(task_id="customers", records=ROWS)
    BrazeTrackUsersOperator(task_id="customers", records=ROWS, skip_on_invalid_records=True).execute(
        context={"run_id": "r1", "ti": type("TI", (), {"map_index": 2})()}
    )

    link = BrazeSyncRunLink().get_link(operator, ti_key=key("r1", map_index=2))

    assert link == "/braze/syncs/adhoc_airflow.customers/task-run?run_id=r1&map_index=2"
    assert "Run r1 [2]" in client.get(link).text


def test_the_link_starts_with_the_api_s_base_url_when_airflow_has_one(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/team-a/")
    operator = BrazeTrackUsersOperator(task_id="customers", records=ROWS)

    assert BrazeSyncRunLink().get_link(operator, ti_key=key("r 1")) == (
        "https://airflow.example.com/team-a/braze/syncs/adhoc_airflow.customers/task-run?run_id=r+1"
    )


def test_exports_that_keep_no_ledger_run_have_no_link():
    identify = BrazeIdentifyUsersOperator(task_id="i", records=[{"external_id": "u", "email": "a@example.com"}])
    one_shot = BrazeTrackUsersOperator(task_id="o", records=ROWS, sync_ledger=False)
    dry_run = BrazeTrackUsersOperator(task_id="d", records=ROWS, dry_run=True)

    assert [BrazeSyncRunLink().get_link(op, ti_key=key()) for op in (identify, one_shot, dry_run)] == ["", "", ""]
