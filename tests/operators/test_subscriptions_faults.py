"""The subscription sync under every fault the Braze sandbox injects: a retry ends in every latest choice.

Setting a subscription state is idempotent, so whatever a faulty first run left unknown or unsent, the
next run (Airflow's retry) sets; nothing Ketch reported is lost, and no later choice is overwritten by
an earlier one. Each case prints its counts (``pytest -s``).
"""

from __future__ import annotations

import pytest

from airflow_provider_braze.operators import BrazeSubscriptionSyncOperator
from tests.helpers.faults import CONNECTION, FAULTS, let_slow_requests_land, switched_off
from tests.helpers.ketch import GROUPS, seed_braze_users

STATE = {"granted": "subscribed", "denied": "unsubscribed"}
ENDPOINT = {"endpoints": ["v2/subscription/status/set"]}


def sync() -> tuple[dict | None, str | None]:
    operator = BrazeSubscriptionSyncOperator(task_id="sync", subscription_groups=GROUPS)
    try:
        return operator.execute(context={"run_id": "test-run"}), None
    except Exception as exc:  # noqa: BLE001 - the first, faulty run may fail in any typed way; it is reported
        return None, type(exc).__name__


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_subscription_sync_under_every_fault_ends_in_every_latest_choice(ketch, braze, braze_conn, store, fault):
    braze_conn(**CONNECTION)
    stream = ketch.random_preference_stream(
        600,
        n_identities=300,
        topics=("newsletter", "offers"),
        channels=("email",),
        duplicate_rate=0.1,
        seed=11,
    )
    seed_braze_users(braze, emails=sorted({key[0] for key in stream.expected_state()}))
    assert ketch.deliver(stream, concurrency=4).failed == 0
    braze.faults.update(**ENDPOINT, **FAULTS[fault])

    _first, first_error = sync()
    braze.faults.update(**switched_off(fault))
    _second, second_error = sync()
    let_slow_requests_land(fault)  # applied after the client gave up: here, not in the next test

    faulted = sum(1 for r in braze.requests.records(endpoint="v2/subscription/status/set") if r.faults)
    assert faulted > 0, "the fault never landed"
    assert second_error is None, second_error
    expected = {key: STATE[status] for key, status in stream.expected_state().items()}
    held = {key: braze.store.subscription_state(GROUPS[key[1]][key[2]], email=key[0]) for key in expected}
    wrong = sum(1 for key in expected if held[key] != expected[key])
    assert wrong == 0, f"{wrong} of {len(expected)} states are not the latest choice"
    assert store.unsynced_range().count == 0
    print(
        f"\nsubscription sync | {fault:<24} | faults injected {faulted:>3} | first run "
        f"{'failed (' + first_error + ')' if first_error else 'succeeded'} | {len(expected)} states, wrong 0, "
        f"events pending after the retry 0"
    )
