"""Preference streams: their ground truth, their disorder and duplicates, and what a real receiver makes of them."""

from __future__ import annotations

import re

import pytest

from tests.helpers.ketch_sandbox import collapsed, stored_count

A, B = "a@example.com", "b@example.com"

#: Hand-checkable: A's news/email was granted at 100 then denied at 200; B's news/email granted at
#: 110 then denied at 120; A's news/sms granted once.
SCRIPT = [
    (A, "news", "email", "granted", 100),
    (A, "news", "email", "denied", 200),
    (A, "news", "sms", "granted", 150),
    (B, "news", "email", "denied", 120),
    (B, "news", "email", "granted", 110),
]
EXPECTED = {
    (A, "news", "email"): "denied",
    (A, "news", "sms"): "granted",
    (B, "news", "email"): "denied",
}


def test_expected_state_is_the_latest_submitted_change_per_key(web_only):
    stream = web_only.preference_stream(SCRIPT, order=[1, 0, 2, 4, 3])
    assert stream.expected_state() == EXPECTED


def test_delivery_order_does_not_change_the_expected_state(web_only):
    for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [1, 0, 2, 4, 3]):
        assert web_only.preference_stream(SCRIPT, order=order).expected_state() == EXPECTED


def test_stale_deliveries_are_those_arriving_after_a_newer_change_of_their_key(web_only):
    stream = web_only.preference_stream(SCRIPT, order=[1, 0, 2, 4, 3])
    assert [d.change_index for d in stream.stale_deliveries()] == [0]
    assert stream.is_out_of_order()


def test_ties_go_to_the_change_listed_last_and_are_reported(web_only):
    stream = web_only.preference_stream([(A, "news", "email", "granted", 100), (A, "news", "email", "denied", 100)])
    assert stream.has_ties()
    assert stream.expected_state() == {(A, "news", "email"): "denied"}


def test_scripted_redeliveries_reuse_the_uid(web_only):
    stream = web_only.preference_stream(SCRIPT, redeliver=[2, 0])
    assert len(stream) == 7
    assert stream.duplicate_uids == [stream.deliveries[2].uid, stream.deliveries[0].uid]


def test_the_same_seed_plans_the_same_changes_and_order_with_fresh_uids(web_only):
    first = web_only.random_preference_stream(50, n_identities=5, seed=42, duplicate_rate=0.2)
    second = web_only.random_preference_stream(50, n_identities=5, seed=42, duplicate_rate=0.2)
    assert first.changes == second.changes
    assert [d.change_index for d in first] == [d.change_index for d in second]
    assert not {d.uid for d in first} & {d.uid for d in second}


def test_random_timestamps_strictly_increase_so_there_are_no_ties(web_only):
    stream = web_only.random_preference_stream(300, n_identities=3, seed=1)
    times = [c.submitted_at for c in stream.changes]
    assert times == sorted(set(times)) and not stream.has_ties()


def test_random_stream_is_out_of_order_with_a_stale_delivery(web_only):
    for seed in range(20):
        stream = web_only.random_preference_stream(6, n_identities=2, topics=["t"], channels=["email"], seed=seed)
        assert stream.is_out_of_order() and stream.stale_deliveries()


def test_in_order_stream_follows_submitted_timestamps(web_only):
    stream = web_only.random_preference_stream(40, n_identities=4, seed=5, out_of_order=False)
    assert not stream.is_out_of_order() and not stream.stale_deliveries()


def test_duplicate_rate_redelivers_that_share_of_changes_after_their_first_delivery(web_only):
    stream = web_only.random_preference_stream(40, n_identities=4, seed=9, duplicate_rate=0.25)
    assert len(stream.duplicate_uids) == 10 and len(set(stream.duplicate_uids)) == 10
    positions = {}
    for position, delivery in enumerate(stream):
        if delivery.redelivery:
            assert positions[delivery.uid] < position
        else:
            positions[delivery.uid] = position


def test_default_identities_are_raw_emails(web_only):
    stream = web_only.random_preference_stream(30, n_identities=3, seed=2)
    identities = {(i.identity_space, i.identity_format, i.identity_value) for i in (c.identity for c in stream.changes)}
    assert identities <= {("email", "raw", f"user{i}@example.com") for i in (1, 2, 3)}


def test_phone_identities_are_e164(web_only):
    stream = web_only.random_preference_stream(10, n_identities=3, identity_kind="phone", seed=2)
    assert all(re.fullmatch(r"\+[1-9]\d{1,14}", c.identity.identity_value) for c in stream.changes)
    assert {c.identity.identity_space for c in stream.changes} == {"phone"}


def test_external_id_identities_use_their_own_space(web_only):
    stream = web_only.random_preference_stream(
        10, n_identities=3, identity_kind="external_id", identity_space="account_id", seed=2
    )
    assert {c.identity.identity_space for c in stream.changes} == {"account_id"}
    assert all(re.fullmatch(r"user-\d{5}", c.identity.identity_value) for c in stream.changes)


def test_given_identities_are_used(web_only):
    stream = web_only.random_preference_stream(20, identities=[A, B], seed=3)
    assert {c.identity.identity_value for c in stream.changes} == {A, B}


def test_delivered_stream_is_stored_once_per_change_despite_redeliveries(ketch, store):
    stream = ketch.random_preference_stream(60, n_identities=5, seed=11, duplicate_rate=0.2)
    report = ketch.deliver(stream)
    assert report.summary()["sent"] == 72 and report.redeliveries == 12
    assert report.status_counts() == {"202": 72}
    assert stored_count(store) == 60


def test_out_of_order_delivery_reaches_the_receiver_out_of_order(ketch, store):
    stream = ketch.random_preference_stream(30, n_identities=2, topics=["news"], channels=["email"], seed=4)
    ketch.deliver(stream)
    arrived = [event.submitted_at for event in store.pending_changes()]  # in event id (arrival) order
    assert arrived != sorted(arrived)
    stale = {d.uid for d in stream.stale_deliveries()}
    assert stale and all(store.get_event(uid) is not None for uid in stale)


def test_receiver_collapse_of_a_shuffled_stream_matches_the_expected_state(ketch, store):
    stream = ketch.random_preference_stream(150, n_identities=6, seed=21, duplicate_rate=0.15)
    ketch.deliver(stream, concurrency=4)
    assert collapsed(store) == stream.expected_state()


def test_sandbox_state_after_delivery_is_the_expected_state(ketch):
    stream = ketch.random_preference_stream(80, n_identities=4, seed=8, duplicate_rate=0.1)
    ketch.deliver(stream, concurrency=3)
    assert ketch.preference_state() == stream.expected_state()


def test_hashed_identities_reach_the_receiver_marked_hashed(ketch, store):
    stream = ketch.random_preference_stream(5, n_identities=2, hash_format="md5", seed=6)
    ketch.deliver(stream)
    identities = [i for event in store.pending_changes() for i in event.identities]
    assert identities and all(i.is_hashed and i.identity_format == "md5" for i in identities)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i.identity_value) for i in identities)


def test_legacy_shape_stream_collapses_the_same(ketch, store):
    stream = ketch.random_preference_stream(20, n_identities=2, seed=13, legacy_shape=True)
    assert all("contactMethods" in next(iter(d.body["request"]["topics"].values())) for d in stream)
    ketch.deliver(stream)
    assert collapsed(store) == stream.expected_state()


def test_duplicate_rate_must_be_a_fraction(web_only):
    with pytest.raises(ValueError):
        web_only.random_preference_stream(5, seed=1, duplicate_rate=1.5)
