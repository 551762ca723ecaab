"""An export refuses the worker-local SQLite ledger where attempts do not share it, and runs where they do.

Each test sets the worker: ``[core] executor`` (the environment, as a Celery worker's), and whether the
process runs in a container whose own root filesystem holds ``AIRFLOW_HOME`` (a fake marker file and a
fake ``/proc/self/mountinfo``); the exports run against the Braze sandbox.
"""

from __future__ import annotations

import json
import logging
import os

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.hooks.ketch_settings import DEFAULT_STATE_FILE
from airflow_provider_braze.operators import BrazeTrackUsersOperator
from airflow_provider_braze.state import placement
from tests.helpers.export_child import start_attempt
from tests.helpers.postgres import empty_postgres_store

EVENTS = [{"external_id": f"u{n % 20}", "name": "viewed", "time": "2024-01-01T10:00:00Z", "id": n} for n in range(60)]
EDGE = "airflow.providers.edge3.executors.EdgeExecutor"


def export(**kwargs):
    """Run an event export (``orders.events``) with the default store unless ``kwargs`` say otherwise."""
    with DAG("orders", schedule=None):
        operator = BrazeTrackUsersOperator(
            task_id="events", record_type="events", records=EVENTS, event_key_column="id", **kwargs
        )
    return operator.execute(context={"run_id": "r1"})


@pytest.fixture
def worker(monkeypatch, tmp_path, own_state_store):
    """``worker(executor, container=False, home_on_volume=False)`` makes this process that worker."""
    for name in ("AIRFLOW__BRAZE__ALLOW_LOCAL_STATE", "AIRFLOW_IS_K8S_EXECUTOR_POD", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    marker, mountinfo = tmp_path / "dockerenv", tmp_path / "mountinfo"
    monkeypatch.setattr(placement, "CONTAINER_MARKER_FILES", (str(marker),))
    monkeypatch.setattr(placement, "MOUNTINFO_PATH", str(mountinfo))
    monkeypatch.setattr(placement, "CGROUP_PATH", str(tmp_path / "cgroup"))

    def configure(executor: str = "LocalExecutor", *, container: bool = False, home_on_volume: bool = False) -> None:
        monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
        if container:
            marker.touch()
        lines = ["1 0 0:21 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u\n"]
        if home_on_volume:
            lines.append(f"2 1 254:1 /volumes/home {os.path.realpath(own_state_store)} rw - ext4 /dev/vdb rw\n")
        mountinfo.write_text("".join(lines))

    configure()
    return configure


def assert_nothing_sent(sandbox, home) -> None:
    assert len(sandbox.requests) == 0 and sandbox.store.events() == []
    assert not (home / DEFAULT_STATE_FILE).exists()  # refused before the store was opened


@pytest.mark.parametrize(
    ("executor", "named"),
    [
        ("CeleryExecutor", "CeleryExecutor"),
        ("KubernetesExecutor", "KubernetesExecutor"),
        (EDGE, EDGE),
        ("CeleryExecutor,LocalExecutor", "CeleryExecutor"),
    ],
)
def test_the_default_store_under_a_distributed_executor_fails_before_sending_anything(
    sandbox, braze_conn, worker, own_state_store, executor, named
):
    worker(executor)

    with pytest.raises(AirflowFailException) as refused:
        export()

    message = str(refused.value)
    assert "state_conn_id" in message and "warehouse_state=True" in message and "allow_local_state" in message
    assert named in message and "worker-local SQLite file" in message
    assert_nothing_sent(sandbox, own_state_store)


def test_a_task_sent_to_kubernetes_by_its_own_executor_argument_is_refused(
    sandbox, braze_conn, worker, own_state_store
):
    worker("LocalExecutor,KubernetesExecutor")

    with pytest.raises(AirflowFailException, match=r"KubernetesExecutor \(the task's executor=\)"):
        export(executor="KubernetesExecutor")

    assert_nothing_sent(sandbox, own_state_store)


def test_a_task_kept_on_the_local_executor_runs_whatever_the_default(sandbox, braze_conn, worker):
    worker("CeleryExecutor,LocalExecutor")
    assert export(executor="LocalExecutor")["accepted"] == 60


def test_the_local_executor_runs_with_the_default_store(sandbox, braze_conn, worker):
    worker("LocalExecutor")
    assert export()["accepted"] == 60 and len(sandbox.store.events()) == 60


def test_a_one_shot_export_runs_under_celery(sandbox, braze_conn, worker):
    worker("CeleryExecutor")
    assert export(sync_ledger=False)["accepted"] == 60


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_state_conn_id_runs_under_celery(sandbox, braze_conn, worker, monkeypatch, tmp_path, database):
    worker("CeleryExecutor")
    if database == "sqlite":
        monkeypatch.setenv(
            "AIRFLOW_CONN_LEDGER_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "l.db")})
        )
        assert export(state_conn_id="ledger_db")["accepted"] == 60
        return
    with empty_postgres_store() as url:
        monkeypatch.setenv("AIRFLOW_CONN_LEDGER_DB", url)
        assert export(state_conn_id="ledger_db")["accepted"] == 60
        assert export(state_conn_id="ledger_db")["already_sent"] == 60  # the next run finds the ledger


def test_allow_local_state_runs_under_celery(sandbox, braze_conn, worker, own_state_store):
    worker("CeleryExecutor")
    assert export(allow_local_state=True)["accepted"] == 60
    assert (own_state_store / DEFAULT_STATE_FILE).exists()


def test_the_deployment_wide_opt_in_runs_under_celery(sandbox, braze_conn, worker, monkeypatch):
    worker("CeleryExecutor")
    monkeypatch.setenv("AIRFLOW__BRAZE__ALLOW_LOCAL_STATE", "True")
    assert export()["accepted"] == 60


def test_a_dry_run_under_celery_warns_and_sends_nothing(sandbox, braze_conn, worker, caplog):
    worker("CeleryExecutor")

    with caplog.at_level(logging.WARNING):
        summary = export(dry_run=True)

    assert summary["rows_to_send"] == 60 and len(sandbox.requests) == 0
    warning = next(r.getMessage() for r in caplog.records if "a real run would fail" in r.getMessage())
    assert "CeleryExecutor" in warning and "state_conn_id" in warning and "warehouse_state=True" in warning


def test_a_container_whose_root_holds_airflow_home_is_refused_even_on_the_local_executor(
    sandbox, braze_conn, worker, own_state_store
):
    worker("LocalExecutor", container=True)

    with pytest.raises(AirflowFailException) as refused:
        export()

    message = str(refused.value)
    assert "runs in a container" in message and "root filesystem (overlay at /)" in message
    assert "state_conn_id" in message and "warehouse_state=True" in message
    assert_nothing_sent(sandbox, own_state_store)


def test_a_container_with_airflow_home_on_a_volume_runs(sandbox, braze_conn, worker):
    worker("LocalExecutor", container=True, home_on_volume=True)
    assert export()["accepted"] == 60


def test_a_celery_worker_process_refuses_the_default_store_without_the_celery_provider(
    sandbox, braze_conn, worker, monkeypatch
):
    # A process of its own, configured from the start as a Celery worker is: [core] executor is read by
    # name, and the Celery provider (not installed here) is never imported.
    worker("CeleryExecutor")
    records = json.dumps(EVENTS)
    attempt = start_attempt({"record_type": "events", "records": records, "event_key_column": "id"}, dag_id="orders")
    out, err = attempt.communicate(timeout=300)

    assert attempt.returncode == 1, err[-2000:]
    outcome = json.loads(out.strip().splitlines()[-1])
    assert outcome["error"] == "AirflowFailException" and "CeleryExecutor" in outcome["message"]
    assert "state_conn_id" in outcome["message"] and "warehouse_state=True" in outcome["message"]
    assert len(sandbox.requests) == 0 and sandbox.store.events() == []
