"""An export's sync: who owns it, carrying it over a rename, and what an empty ledger warns about."""

from __future__ import annotations

import logging

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.operators import BrazeTrackUsersOperator
from airflow_provider_braze.state.sync_ledger_cli import main as ledger_cli

EVENTS = [{"external_id": f"u{n % 50}", "name": "viewed", "time": "2024-01-01T10:00:00Z", "id": n} for n in range(500)]


def export(dag_id: str, task_id: str = "events", run_id: str = "r1", **kwargs):
    """Run an event export as task ``task_id`` of DAG ``dag_id``."""
    with DAG(dag_id, schedule=None):
        operator = BrazeTrackUsersOperator(
            task_id=task_id, record_type="events", records=EVENTS, event_key_column="id", **kwargs
        )
    return operator.execute(context={"run_id": run_id})


def test_a_second_dag_on_the_same_sync_key_fails_before_sending_naming_the_first(sandbox, braze_conn):
    export("orders", sync_key="app_events")
    requests = len(sandbox.requests)

    with pytest.raises(AirflowFailException) as refused:
        export("returns", sync_key="app_events")

    assert "belongs to task 'events' of DAG 'orders', not to returns.events" in str(refused.value)
    assert len(sandbox.requests) == requests  # nothing was sent
    assert len(sandbox.store.events()) == 500


def test_a_dag_that_shares_the_sync_on_purpose_sends_only_what_is_not_sent(sandbox, braze_conn):
    export("orders", sync_key="app_events")
    shared = export("returns", sync_key="app_events", share_sync=True)
    assert shared["already_sent"] == 500 and shared["rows_sent"] == 0
    assert len(sandbox.store.events()) == 500


def test_a_renamed_task_carried_over_with_rename_sends_nothing_twice(sandbox, braze_conn, capsys):
    export("orders", task_id="events")
    assert ledger_cli(["rename", "orders.events", "orders.app_events"]) == 0
    assert "is now 'orders.app_events'" in capsys.readouterr().out

    renamed = export("orders", task_id="app_events", run_id="r2")

    assert renamed["already_sent"] == 500 and renamed["rows_sent"] == 0
    assert len(sandbox.store.events()) == 500


def test_a_renamed_task_keeping_its_sync_key_is_let_in_once_the_owner_is_released(sandbox, braze_conn, capsys):
    export("orders", task_id="events")
    with pytest.raises(AirflowFailException, match=r"braze-sync-ledger release orders\.events"):
        export("orders", task_id="app_events", run_id="r2", sync_key="orders.events")
    assert ledger_cli(["release", "orders.events"]) == 0

    renamed = export("orders", task_id="app_events", run_id="r2", sync_key="orders.events")

    assert renamed["already_sent"] == 500 and len(sandbox.store.events()) == 500


def test_a_renamed_task_without_carry_over_warns_that_its_dag_has_history_under_another_key(
    sandbox, braze_conn, caplog
):
    export("orders", task_id="events")
    with caplog.at_level(logging.WARNING):
        export("orders", task_id="app_events", run_id="r2")
    warning = next(r.getMessage() for r in caplog.records if "starts with an empty ledger" in r.getMessage())
    assert "orders.events" in warning and "braze-sync-ledger rename orders.events orders.app_events" in warning


def test_a_negative_lease_timeout_is_refused_when_the_dag_is_parsed():
    from airflow_provider_braze.operators import BrazeExportMisconfigured

    with pytest.raises(BrazeExportMisconfigured, match="sync_lease_timeout must be seconds, 0 or more, not -1"):
        BrazeTrackUsersOperator(task_id="t", record_type="events", records=EVENTS, sync_lease_timeout=-1)
