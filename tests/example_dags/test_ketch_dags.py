"""The Ketch example DAGs through `airflow dags test`: webhooks in, Braze state and Ketch callbacks out."""

from __future__ import annotations

import json

import pytest

from airflow_provider_braze.state import KetchEventStore
from example_dags.ketch_settings import SUBSCRIPTION_GROUPS
from tests.helpers.ketch import ketch_sending_to
from tests.helpers.secrets import TEST_API_KEY

STATE = {"granted": "subscribed", "denied": "unsubscribed"}


@pytest.fixture
def ketch_env(tmp_path):
    """A receiver over a fresh state store, the Ketch sandbox sending to it, and ``ketch_default`` for the DAGs."""
    state_url = f"sqlite:///{tmp_path / 'ketch_state.db'}"
    store = KetchEventStore(state_url)
    with ketch_sending_to(store, "sandbox", state_url) as (ketch, conn):
        yield ketch, store, {"AIRFLOW_CONN_KETCH_DEFAULT": conn}
    store.dispose()


@pytest.fixture
def braze_with_users(dag_sandbox):
    """The Braze sandbox with the example's subscription groups and profiles for user1..user80@example.com."""
    import requests

    for channels in SUBSCRIPTION_GROUPS.values():
        for channel, group in channels.items():
            dag_sandbox.add_subscription_group(group, channel=channel)
    emails = [f"user{n}@example.com" for n in range(1, 81)]
    for i in range(0, len(emails), 75):
        body = {"attributes": [{"external_id": f"id-{e}", "email": e} for e in emails[i : i + 75]]}
        requests.post(
            f"{dag_sandbox.url}/users/track", json=body, headers={"Authorization": f"Bearer {TEST_API_KEY}"}, timeout=10
        )
    yield dag_sandbox, emails
    dag_sandbox.store.subscription_group_registry.clear()


def held(braze, expected) -> dict:
    return {
        (identity, topic, channel): braze.store.subscription_state(SUBSCRIPTION_GROUPS[topic][channel], email=identity)
        for identity, topic, channel in expected
    }


def test_1000_changes_out_of_order_and_repeated_end_in_each_users_latest_choice(run_dag, ketch_env, braze_with_users):
    ketch, store, env = ketch_env
    braze, emails = braze_with_users
    stream = ketch.random_preference_stream(
        1000, identities=emails, topics=("newsletter", "offers"), channels=("email",), duplicate_rate=0.1, seed=21
    )
    assert stream.is_out_of_order()
    assert ketch.deliver(stream, concurrency=4).failed == 0

    run_dag("example_ketch_preferences", **env)

    expected = {key: STATE[status] for key, status in stream.expected_state().items()}
    assert held(braze, expected) == expected
    assert store.unsynced_range().count == 0


def test_a_run_failing_half_way_is_completed_by_the_next(run_dag, ketch_env, braze_with_users):
    ketch, store, env = ketch_env
    braze, emails = braze_with_users
    stream = ketch.random_preference_stream(
        400, identities=emails, topics=("newsletter", "offers"), channels=("email",), seed=5
    )
    ketch.deliver(stream)
    braze.faults.update(error_rate=0.5, error_statuses=(503,), endpoints=["v2/subscription/status/set"])
    env = {
        **env,
        "AIRFLOW_CONN_BRAZE_DEFAULT": json.dumps(
            {"conn_type": "braze", "host": braze.url, "password": TEST_API_KEY, "extra": {"max_attempts": 1}}
        ),
    }

    failed = run_dag("example_ketch_preferences", expect_success=False, **env)
    assert failed.returncode != 0
    assert 0 < store.unsynced_range().count < 400

    braze.faults.update(error_rate=0.0)
    run_dag("example_ketch_preferences", **env)
    expected = {key: STATE[status] for key, status in stream.expected_state().items()}
    assert held(braze, expected) == expected


def test_rights_requests_delete_and_export_and_report_completed(run_dag, ketch_env, braze_with_users):
    ketch, _store, env = ketch_env
    braze, emails = braze_with_users
    erase = ketch.send_delete_request([emails[0]], emails[0]).uid
    access = ketch.send_access_request([emails[1]], emails[1]).uid

    run_dag("example_ketch_rights_requests", **env)

    assert braze.store.find_user(email=emails[0]) is None
    assert [c.event.event.status for c in ketch.callbacks(erase)] == ["in_progress", "completed"]
    assert ketch.callbacks(erase)[-1].event.event.reason == "executed"
    (user,) = ketch.access_document(access)["users"]
    assert user["email"] == emails[1] and user["external_id"] == f"id-{emails[1]}"


def test_event_driven_dag_syncs_everything_pending(run_dag, ketch_env, braze_with_users):
    ketch, _store, env = ketch_env
    braze, emails = braze_with_users
    ketch.send_control(emails[2], "global_subscription", "denied")
    ketch.send_subscription_change(emails[3], "offers", "email", "granted")

    run_dag("example_ketch_event_driven", **env)

    assert braze.store.email_state(emails[2]) == "unsubscribed"
    assert braze.store.subscription_state(SUBSCRIPTION_GROUPS["offers"]["email"], email=emails[3]) == "subscribed"
