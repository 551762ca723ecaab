"""BrazeSubscriptionSyncOperator end to end: Ketch webhooks in, Braze subscription states out."""

from __future__ import annotations

import threading
import time

import pytest

from airflow_provider_braze.braze.errors import BrazeCancelledError
from airflow_provider_braze.operators import BrazeSubscriptionSyncOperator
from tests.helpers.ketch import GROUPS, seed_braze_users

EMAIL_ONLY = {topic: {"email": channels["email"]} for topic, channels in GROUPS.items()}
STATE = {"granted": "subscribed", "denied": "unsubscribed"}


def sync(**kwargs) -> dict:
    kwargs.setdefault("subscription_groups", GROUPS)
    return BrazeSubscriptionSyncOperator(task_id="sync", **kwargs).execute(context={"run_id": "test-run"})


def braze_states(braze, expected_keys, kind="email") -> dict:
    return {
        (identity, topic, channel): braze.store.subscription_state(GROUPS[topic][channel], **{kind: identity})
        for identity, topic, channel in expected_keys
    }


def test_random_changes_out_of_order_and_repeated_end_in_each_latest_choice(ketch, braze, store):
    stream = ketch.random_preference_stream(
        1000, n_identities=60, topics=("newsletter", "offers"), channels=("email",), duplicate_rate=0.1, seed=4
    )
    assert stream.is_out_of_order()
    seed_braze_users(braze, emails=sorted({key[0] for key in stream.expected_state()}))
    report = ketch.deliver(stream, concurrency=4)
    assert report.failed == 0

    summary = sync()

    expected = {key: STATE[status] for key, status in stream.expected_state().items()}
    assert braze_states(braze, expected) == expected
    assert summary["rejected"] == 0 and summary["not_applied"] == 0
    assert store.unsynced_range().count == 0
    # Repeated deliveries were stored once: one event per distinct change.
    assert summary["events"] == 1000


def test_a_run_that_fails_half_way_loses_nothing(ketch, braze, braze_conn, store):
    braze_conn(max_attempts=1)
    stream = ketch.random_preference_stream(
        300, n_identities=200, topics=("newsletter", "offers"), channels=("email",), seed=8
    )
    seed_braze_users(braze, emails=sorted({key[0] for key in stream.expected_state()}))
    ketch.deliver(stream)
    braze.faults.update(error_rate=0.5, error_statuses=(503,), endpoints=["v2/subscription/status/set"])

    with pytest.raises(Exception, match="503"):
        sync()
    half = store.unsynced_range().count
    assert 0 < half < 300  # some events synced, the rest left pending

    braze.faults.update(error_rate=0.0)
    sync()
    expected = {key: STATE[status] for key, status in stream.expected_state().items()}
    assert braze_states(braze, expected) == expected
    assert store.unsynced_range().count == 0


def test_a_late_change_older_than_one_already_synced_is_not_applied(ketch, braze, store):
    seed_braze_users(braze, emails=["ada@example.com"])
    ketch.send_subscription_change("ada@example.com", "newsletter", "email", "denied", submitted_at=2_000)
    sync()
    # Ketch delivers, late, a choice the user made before the one already synced.
    ketch.send_subscription_change("ada@example.com", "newsletter", "email", "granted", submitted_at=1_000)
    summary = sync()
    assert summary["superseded"] == 1 and summary["accepted"] == 0
    assert braze.store.subscription_state("grp-newsletter-email", email="ada@example.com") == "unsubscribed"
    assert store.unsynced_range().count == 0


def test_unsubscribe_from_all_sets_the_global_email_state(ketch, braze):
    seed_braze_users(braze, emails=["ada@example.com"])
    ketch.send_control("ada@example.com", "global_subscription", "denied")
    sync()
    assert braze.store.email_state("ada@example.com") == "unsubscribed"
    assert braze.store.blocklisted_emails() == []


def test_unsubscribe_from_all_can_blocklist(ketch, braze):
    seed_braze_users(braze, emails=["ada@example.com"])
    ketch.send_control("ada@example.com", "global_subscription", "denied")
    sync(blocklist_on_unsubscribe_all=True)
    assert braze.store.blocklisted_emails() == ["ada@example.com"]


def test_sms_topics_use_e164_phones(ketch, braze):
    seed_braze_users(braze, phones=["+15550000017"])
    ketch.send_subscription_change(
        {"identitySpace": "phone", "identityFormat": "raw", "identityValue": "+15550000017"}, "offers", "sms", "granted"
    )
    sync(identity_spaces={"phone": "phones"})
    assert braze.store.subscription_state("grp-offers-sms", phone="+15550000017") == "subscribed"


def test_hashed_identities_and_unmapped_topics_are_skipped_and_counted(ketch, braze, store):
    ketch.send_subscription_change(
        {"identitySpace": "email", "identityFormat": "md5", "identityValue": "5d41402abc4b2a76b9719d911017c592"},
        "newsletter",
        "email",
        "granted",
    )
    ketch.send_subscription_change("ada@example.com", "surveys", "email", "granted")
    summary = sync(subscription_groups=EMAIL_ONLY)
    assert summary["skipped"] == {
        "identity in 'email' is hashed (md5)": 1,
        "topic 'surveys' x channel 'email' not in subscription_groups": 1,
    }
    assert summary["events_skipped"] == 2 and store.unsynced_range().count == 0
    assert braze.requests.records(endpoint="v2/subscription/status/set") == []


def test_event_range_from_a_sensor_limits_the_run(ketch, braze, store):
    seed_braze_users(braze, emails=["a@example.com", "b@example.com"])
    ketch.send_subscription_change("a@example.com", "newsletter", "email", "granted")
    first = store.unsynced_range()
    ketch.send_subscription_change("b@example.com", "newsletter", "email", "granted")
    summary = sync(event_range={"first_id": first.first_id, "last_id": first.last_id, "count": first.count})
    assert summary["events"] == 1
    assert braze.store.subscription_state("grp-newsletter-email", email="b@example.com") is None
    assert store.unsynced_range().count == 1


def test_event_range_rendered_as_text_is_read(ketch, braze, store):
    ketch.send_subscription_change("a@example.com", "newsletter", "email", "granted")
    rng = store.unsynced_range()
    summary = sync(event_range=str({"first_id": rng.first_id, "last_id": rng.last_id, "count": rng.count}))
    assert summary["events"] == 1


def test_nothing_pending_is_a_quiet_success(ketch, braze):
    assert sync()["events"] == 0


def test_each_run_is_kept_in_the_sync_ledger_with_the_changes_braze_refused(ketch, braze):
    from airflow_provider_braze.hooks.ketch_settings import default_state_url
    from airflow_provider_braze.state.sync_history import SyncHistory

    seed_braze_users(braze, emails=["ada@example.com"])
    ketch.send_subscription_change("ada@example.com", "newsletter", "email", "granted")
    ketch.send_subscription_change("ada@example.com", "offers", "email", "granted")

    summary = sync(subscription_groups={**GROUPS, "offers": {"email": "grp-nobody-made"}})

    assert summary["accepted"] == 1 and summary["rejected"] == 1
    history = SyncHistory(default_state_url())
    sync_row = history.sync("adhoc_airflow.sync")
    assert (sync_row.mode, sync_row.endpoint) == ("subscriptions", "v2/subscription/status/set")
    (run,) = history.runs(sync_row.id)
    assert run.status == "success"
    assert {k: run.summary[k] for k in ("rows_read", "rows_sent", "accepted", "rejected", "data_points")} == {
        "rows_read": 2,
        "rows_sent": 2,
        "accepted": 1,
        "rejected": 1,
        "data_points": 0,
    }
    (problem,) = history.problems(run.id)
    assert problem.status == "rejected" and problem.row.startswith("event ")
    assert "Invalid subscription_group_id 'grp-nobody-made'" in problem.reason
    assert "ada@example.com" not in problem.reason  # the identifier is masked
    history.dispose()


def test_the_sync_links_to_its_run_in_the_sync_history():
    from airflow_provider_braze.ui.links import BrazeSyncRunLink

    operator = BrazeSubscriptionSyncOperator(task_id="sync", subscription_groups=GROUPS, sync_key="ketch.preferences")
    key = type("Key", (), {"run_id": "scheduled__2026-12-01", "map_index": -1})()
    assert BrazeSyncRunLink().get_link(operator, ti_key=key) == (
        "/braze/syncs/ketch.preferences/task-run?run_id=scheduled__2026-12-01"
    )


def test_on_kill_ends_a_sync_stalled_by_braze_within_seconds_and_the_next_run_loses_nothing(ketch, braze, store):
    stream = ketch.random_preference_stream(300, n_identities=200, topics=("newsletter",), channels=("email",), seed=3)
    seed_braze_users(braze, emails=sorted({key[0] for key in stream.expected_state()}))
    ketch.deliver(stream)
    # Braze refuses every request for the next minute (within max_retry_seconds): the sync would wait.
    braze.faults.update(rate_limit_storm_for=600, rate_limit_storm_reset=60, endpoints=["v2/subscription/status/set"])
    operator = BrazeSubscriptionSyncOperator(task_id="sync", subscription_groups=GROUPS)
    threading.Timer(1.0, operator.on_kill).start()  # what Airflow's SIGTERM handler does
    started = time.monotonic()
    with pytest.raises(BrazeCancelledError, match=r"subscription sync cancelled \(SIGTERM\)"):
        operator.execute(context={"run_id": "test-run"})
    assert time.monotonic() - started < 3
    assert store.unsynced_range().count == 300  # nothing was applied, nothing is lost

    braze.faults.update(rate_limit_storm_until=0.0)
    sync()
    expected = {key: STATE[status] for key, status in stream.expected_state().items()}
    assert braze_states(braze, expected) == expected
    assert store.unsynced_range().count == 0
