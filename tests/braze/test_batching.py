"""Packing objects into requests within the catalogue's item and byte limits."""

from __future__ import annotations

import json

import pytest

from airflow_provider_braze.braze.batching import Batcher, encode
from airflow_provider_braze.braze.endpoints import get_endpoint
from airflow_provider_braze.braze.items import Item


def attrs(n: int, **extra) -> list[Item]:
    return [Item("attributes", {"external_id": f"u{i}", **extra}, ref=i) for i in range(n)]


def test_users_track_batches_hold_at_most_75_per_array():
    batches = list(Batcher(get_endpoint("users/track")).batches(attrs(151)))
    assert [len(b) for b in batches] == [75, 75, 1]
    assert [i.ref for i in batches[2].all_items()] == [150]


def test_users_track_mixes_arrays_up_to_75_each():
    items = attrs(75) + [
        Item("events", {"external_id": "u", "name": "e", "time": "2026-01-01"}, ref=f"e{i}") for i in range(75)
    ]
    (batch,) = Batcher(get_endpoint("users/track")).batches(items)
    body = json.loads(batch.body())
    assert len(body["attributes"]) == 75 and len(body["events"]) == 75


def test_mau_limit_caps_objects_across_arrays():
    ep = get_endpoint("users/track").with_limits(max_items=50, max_total_items=50)
    items = attrs(40) + [Item("events", {"external_id": "u", "name": "e", "time": "t"}) for _ in range(40)]
    assert [len(b) for b in Batcher(ep).batches(items)] == [50, 30]


def test_body_is_the_exact_json_of_the_items_in_order():
    (batch,) = Batcher(get_endpoint("users/track")).batches(attrs(3, plan="gold"))
    assert batch.payload() == {"attributes": [{"external_id": f"u{i}", "plan": "gold"} for i in range(3)]}


def test_batches_close_before_the_byte_limit():
    ep = get_endpoint("users/track").with_limits(max_items=1000, max_total_items=1000)
    big = "x" * 100_000
    batches = list(Batcher(ep).batches(attrs(100, blob=big)))
    assert all(len(b.body()) <= ep.max_body_bytes for b in batches)
    assert sum(len(b) for b in batches) == 100 and len(batches) == 3


def test_an_object_larger_than_any_request_is_set_apart_unsent():
    ep = get_endpoint("users/track")
    items = [*attrs(2), Item("attributes", {"external_id": "huge", "blob": "x" * 4100000}, ref="huge"), *attrs(1)]
    batches = list(Batcher(ep).batches(items))
    oversized = [b for b in batches if b.refusal is not None]
    assert [i.ref for b in oversized for i in b.all_items()] == ["huge"]
    assert sum(len(b) for b in batches if b.refusal is None) == 3


def test_one_identifier_type_per_delete_request():
    items = [Item("external_ids", f"u{i}") for i in range(3)] + [Item("braze_ids", "b1")] + [Item("external_ids", "u9")]
    batches = list(Batcher(get_endpoint("users/delete")).batches(items))
    assert sorted(tuple(b.items) for b in batches) == [("braze_ids",), ("external_ids",)]
    assert {k: len(v) for b in batches for k, v in b.items.items()} == {"external_ids": 4, "braze_ids": 1}


def test_delete_batches_hold_50_ids():
    items = [Item("external_ids", f"u{i}") for i in range(120)]
    assert [len(b) for b in Batcher(get_endpoint("users/delete")).batches(items)] == [50, 50, 20]


def test_static_fields_are_sent_with_every_request():
    ep = get_endpoint("subscription/status/set")
    static = {"subscription_group_id": "g1", "subscription_state": "subscribed"}
    (batch,) = Batcher(ep, static).batches([Item("external_id", "u1"), Item("external_id", "u2")])
    assert batch.payload() == {**static, "external_id": ["u1", "u2"]}


def test_v2_subscription_entries_are_packed_by_identifier_count():
    ep = get_endpoint("v2/subscription/status/set")

    def entry(n: int) -> dict:
        return {
            "subscription_group_id": "g",
            "subscription_state": "subscribed",
            "external_ids": [f"u{i}" for i in range(n)],
        }

    items = [
        Item("subscription_groups", entry(30)),
        Item("subscription_groups", entry(20)),
        Item("subscription_groups", entry(10)),
    ]
    assert [len(b) for b in Batcher(ep).batches(items)] == [2, 1]


def test_items_are_consumed_lazily():
    produced = []

    def source():
        for item in attrs(1000):
            produced.append(item)
            yield item

    first = next(iter(Batcher(get_endpoint("users/track")).batches(source())))
    assert len(first) == 75 and len(produced) == 76


def test_v1_subscription_requests_never_carry_emails_and_phones_together():
    ep = get_endpoint("subscription/status/set")
    items = [Item("email", "a@x.io"), Item("phone", "+15550000001"), Item("external_id", "u1"), Item("email", "b@x.io")]
    batches = list(Batcher(ep, {"subscription_group_id": "g", "subscription_state": "subscribed"}).batches(items))
    assert not any({"email", "phone"} <= set(b.items) for b in batches)
    assert sorted(len(b) for b in batches) == [1, 1, 2]


def test_objects_are_sent_as_compact_utf8_json():
    assert encode({"external_id": "u1", "city": "Zürich", "tags": ["a", None], "n": 1.5}) == (
        '{"external_id":"u1","city":"Zürich","tags":["a",null],"n":1.5}'.encode()
    )


@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf")])
def test_a_number_json_cannot_hold_is_refused_not_sent_as_null(number):
    with pytest.raises(ValueError, match="JSON compliant"):
        encode({"external_id": "u1", "score": number})
