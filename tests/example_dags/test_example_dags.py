"""Every example DAG parses, and runs end to end with `airflow dags test` against the sandbox."""

from __future__ import annotations

from airflow.dag_processing.dagbag import DagBag

from tests.helpers.example_dags import DAGS


def test_example_dags_import_without_errors():
    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert "example_braze_hook" in bag.dag_ids
    assert {"example_ketch_preferences", "example_ketch_event_driven", "example_ketch_rights_requests"} <= set(
        bag.dag_ids
    )


def test_hook_example_leaves_every_customer_in_braze(run_dag, dag_sandbox):
    import example_dags.example_braze_hook as example

    run_dag("example_braze_hook")
    held = {u.external_id: u.custom_attributes for u in dag_sandbox.store.users()}
    expected = {c["external_id"]: {"plan": c["plan"], "lifetime_value": c["lifetime_value"]} for c in example.CUSTOMERS}
    assert held == expected


def test_cdi_example_triggers_a_sync_and_waits_for_it(run_dag, dag_sandbox):
    integration = dag_sandbox.add_cdi_integration(integration_name="customers", job_duration=1, rows_synced=42)
    import time

    run_dag("example_braze_cdi", AIRFLOW_VAR_BRAZE_CDI_INTEGRATION_ID=integration)
    # One sync was started, and the DAG (operator, then sensor) only succeeded once it had finished.
    (job,) = dag_sandbox.cdi.integrations[integration].jobs
    assert job.view(time.time())["job_status"] == "success"
    syncs = dag_sandbox.requests.records(endpoint="cdi/integrations/{integration_id}/sync")
    assert [r.status for r in syncs] == [202]
