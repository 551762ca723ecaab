"""``/users/track`` in the sandbox: limits, partial errors, identifiers, creation rules, responses, billing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_braze.sandbox.braze import BrazeSandbox

T = "2024-05-01T12:00:00Z"
MISSING_ID = "'external_id' or 'braze_id' or 'user_alias' is required"


def test_76_attributes_is_400_max_input_length_exceeded_and_nothing_applied(braze_sandbox, braze):
    attributes = [{"external_id": f"u{i}", "x": i} for i in range(76)]
    response = braze.track(attributes=attributes, events=[{"external_id": "e", "name": "n", "time": T}])
    assert response.status_code == 400
    assert response.json()["message"] == "Max Input Length Exceeded"
    assert braze_sandbox.store.users() == [] and braze_sandbox.store.events() == []


def test_75_attributes_75_events_75_purchases_are_accepted(braze_sandbox, braze):
    purchase = {"product_id": "p", "currency": "USD", "price": 1.0, "time": T}
    response = braze.track(
        attributes=[{"external_id": f"u{i}"} for i in range(75)],
        events=[{"external_id": f"u{i}", "name": "n", "time": T} for i in range(75)],
        purchases=[{"external_id": f"u{i}", **purchase} for i in range(75)],
    )
    assert response.status_code == 201
    assert response.json() == {
        "message": "success",
        "attributes_processed": 75,
        "events_processed": 75,
        "purchases_processed": 75,
    }


def test_response_counts_only_the_arrays_sent(braze):
    response = braze.track(events=[{"external_id": "u", "name": "n", "time": T}])
    assert response.status_code == 201
    assert response.json() == {"message": "success", "events_processed": 1}


def test_empty_request_is_400(braze):
    assert braze.track().status_code == 400


def test_partial_failure_is_201_with_errors_indexed_and_the_rest_applied(braze_sandbox, braze):
    response = braze.track(
        attributes=[{"external_id": "a", "v": 1}, {"v": 2}, {"external_id": "c", "v": 3}],
        events=[{"external_id": "a", "name": "ok", "time": T}, {"external_id": "a", "time": T}],
        purchases=[{"external_id": "a", "product_id": "p", "currency": "XYZ", "price": 1, "time": T}],
    )
    body = response.json()
    assert response.status_code == 201
    assert body["errors"] == [
        {"type": MISSING_ID, "input_array": "attributes", "index": 1},
        {"type": body["errors"][1]["type"], "input_array": "events", "index": 1},
        {"type": body["errors"][2]["type"], "input_array": "purchases", "index": 0},
    ]
    assert (body["attributes_processed"], body["events_processed"], body["purchases_processed"]) == (2, 1, 0)
    assert braze_sandbox.store.find_user(external_id="a").custom_attributes == {"v": 1}
    assert braze_sandbox.store.find_user(external_id="c").custom_attributes == {"v": 3}
    assert [e["name"] for e in braze_sandbox.store.events()] == ["ok"]
    assert braze_sandbox.store.purchases() == []


@pytest.mark.parametrize(
    "event",
    [
        {"external_id": "u", "time": T},
        {"external_id": "u", "name": "", "time": T},
        {"external_id": "u", "name": "n"},
        {"external_id": "u", "name": "n", "time": "yesterday"},
        {"external_id": "u", "name": "n", "time": T, "properties": {"": 1}},
        {"external_id": "u", "name": "n", "time": T, "properties": {"k" * 256: 1}},
        {"external_id": "u", "name": "n", "time": T, "properties": {"$k": 1}},
        {"external_id": "u", "name": "n", "time": T, "properties": {"time": 1}},
        {"external_id": "u", "name": "n", "time": T, "properties": {"event_name": 1}},
        {"external_id": "u", "name": "n", "time": T, "properties": {"s": "v" * 256}},
        {"external_id": "u", "name": "n", "time": T, "properties": {"big": ["v" * 200] * 600}},
        {"name": "n", "time": T},
    ],
    ids=[
        "no-name",
        "empty-name",
        "no-time",
        "bad-time",
        "empty-key",
        "long-key",
        "dollar-key",
        "time-key",
        "event_name-key",
        "long-string",
        "over-100kb",
        "no-identifier",
    ],
)
def test_invalid_event_is_an_error_for_that_event_only(braze_sandbox, braze, event):
    response = braze.track(events=[event, {"external_id": "u", "name": "good", "time": T}])
    assert response.status_code == 201
    assert [(e["input_array"], e["index"]) for e in response.json()["errors"]] == [("events", 0)]
    assert [e["name"] for e in braze_sandbox.store.events()] == ["good"]


def test_event_time_in_braze_colon_millis_format_is_accepted(braze_sandbox, braze):
    response = braze.track(events=[{"external_id": "u", "name": "n", "time": "2013-02-01T12:00:00:000Z"}])
    assert "errors" not in response.json()
    assert braze_sandbox.store.events()[0]["time"].startswith("2013-02-01T12:00:00")


def test_future_event_time_is_clamped_to_now(braze_sandbox, braze):
    future = (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()
    braze.track(events=[{"external_id": "u", "name": "n", "time": future}])
    stored = datetime.fromisoformat(braze_sandbox.store.events()[0]["time"].replace("Z", "+00:00"))
    assert stored <= datetime.now(timezone.utc)


@pytest.mark.parametrize(
    "change",
    [
        {"currency": "usd"},
        {"currency": "ABC"},
        {"price": "1.00"},
        {"price": True},
        {"quantity": 0},
        {"quantity": 101},
        {"quantity": 1.5},
        {"product_id": "p" * 256},
        {"product_id": None},
        {"time": None},
        {"time": "2013-02-01T12:00:00:000Z"},
    ],
    ids=[
        "lower-currency",
        "unknown-currency",
        "string-price",
        "bool-price",
        "quantity-0",
        "quantity-101",
        "float-quantity",
        "long-product",
        "no-product",
        "no-time",
        "non-iso-time",
    ],
)
def test_invalid_purchase_is_an_error_for_that_purchase_only(braze_sandbox, braze, change):
    good = {"external_id": "u", "product_id": "p", "currency": "EUR", "price": 9.5, "time": T}
    response = braze.track(purchases=[{**good, **change}, good])
    assert [(e["input_array"], e["index"]) for e in response.json()["errors"]] == [("purchases", 0)]
    assert len(braze_sandbox.store.purchases()) == 1


def test_purchase_quantity_is_kept_and_counts_toward_revenue(braze_sandbox, braze):
    braze.track(
        purchases=[{"external_id": "u", "product_id": "p", "currency": "USD", "price": 2.5, "quantity": 4, "time": T}]
    )
    assert braze_sandbox.store.purchases()[0]["quantity"] == 4
    export = braze.post(
        "/users/export/ids", {"external_ids": ["u"], "fields_to_export": ["total_revenue", "purchases"]}
    )
    assert export.json()["users"][0]["total_revenue"] == 10.0
    assert export.json()["users"][0]["purchases"][0]["count"] == 4


def test_purchase_quantity_100_is_accepted(braze):
    response = braze.track(
        purchases=[{"external_id": "u", "product_id": "p", "currency": "USD", "price": 1, "quantity": 100, "time": T}]
    )
    assert "errors" not in response.json()


# --- identifiers and creation -------------------------------------------------------------------------


def test_unknown_external_id_creates_a_profile(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "new", "first_name": "N"}])
    assert braze_sandbox.store.find_user(external_id="new").attributes == {"first_name": "N"}


def test_update_existing_only_true_does_not_create(braze_sandbox, braze):
    response = braze.track(attributes=[{"external_id": "ghost", "x": 1, "_update_existing_only": True}])
    assert response.json() == {"message": "success", "attributes_processed": 1}
    assert braze_sandbox.store.users() == []


def test_event_with_unknown_external_id_creates_a_profile(braze_sandbox, braze):
    braze.track(events=[{"external_id": "evt", "name": "n", "time": T}])
    assert braze_sandbox.store.find_user(external_id="evt") is not None


def test_alias_attributes_do_not_create_by_default(braze_sandbox, braze):
    braze.track(attributes=[{"user_alias": {"alias_name": "a1", "alias_label": "crm"}, "x": 1}])
    assert braze_sandbox.store.users() == []


def test_alias_attributes_with_update_existing_only_false_create_an_alias_only_profile(braze_sandbox, braze):
    braze.track(
        attributes=[{"user_alias": {"alias_name": "a1", "alias_label": "crm"}, "x": 1, "_update_existing_only": False}]
    )
    user = braze_sandbox.store.find_user(alias=("a1", "crm"))
    assert user.external_id is None and user.custom_attributes == {"x": 1}


def test_alias_events_and_purchases_never_create_profiles(braze_sandbox, braze):
    alias = {"alias_name": "a1", "alias_label": "crm"}
    braze.track(
        events=[{"user_alias": alias, "name": "n", "time": T, "_update_existing_only": False}],
        purchases=[
            {
                "user_alias": alias,
                "product_id": "p",
                "currency": "USD",
                "price": 1,
                "time": T,
                "_update_existing_only": False,
            }
        ],
    )
    assert braze_sandbox.store.users() == [] and braze_sandbox.store.events() == []


def test_alias_event_updates_an_existing_alias_profile(braze_sandbox, braze):
    braze.post("/users/alias/new", {"user_aliases": [{"alias_name": "a1", "alias_label": "crm"}]})
    braze.track(events=[{"user_alias": {"alias_name": "a1", "alias_label": "crm"}, "name": "n", "time": T}])
    user = braze_sandbox.store.find_user(alias=("a1", "crm"))
    assert [e["name"] for e in braze_sandbox.store.events(braze_id=user.braze_id)] == ["n"]


def test_braze_id_never_creates(braze_sandbox, braze):
    braze.track(attributes=[{"braze_id": "000000000000000000000000", "x": 1}])
    assert braze_sandbox.store.users() == []


def test_unknown_email_creates_an_email_only_profile_without_alias(braze_sandbox, braze):
    braze.track(attributes=[{"email": "Ada@Example.com", "first_name": "Ada"}])
    user = braze_sandbox.store.find_user(email="ada@example.com")
    assert (user.external_id, user.aliases, user.email) == (None, {}, "Ada@Example.com")


def test_email_wins_over_phone_as_identifier(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "p", "phone": "+15550001"}, {"external_id": "e", "email": "e@x.io"}])
    braze.track(attributes=[{"email": "e@x.io", "phone": "+15550001", "tag": "hit"}])
    assert braze_sandbox.store.find_user(external_id="e").custom_attributes == {"tag": "hit"}
    assert braze_sandbox.store.find_user(external_id="e").phone == "+15550001"
    assert braze_sandbox.store.find_user(external_id="p").custom_attributes == {}


def test_shared_email_updates_the_most_recently_updated_identified_profile(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "old", "email": "s@x.io"}])
    braze.track(attributes=[{"external_id": "new", "email": "s@x.io"}])
    braze.track(attributes=[{"email": "s@x.io", "_update_existing_only": False, "tag": 1}])
    assert braze_sandbox.store.find_user(external_id="new").custom_attributes == {"tag": 1}
    assert braze_sandbox.store.find_user(external_id="old").custom_attributes == {}


def test_two_primary_identifiers_in_one_object_are_an_error(braze_sandbox, braze):
    response = braze.track(attributes=[{"external_id": "u", "braze_id": "b", "x": 1}])
    assert response.json()["errors"][0]["index"] == 0
    assert braze_sandbox.store.users() == []


# --- attributes ---------------------------------------------------------------------------------------


def test_null_removes_a_custom_attribute(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "a": 1, "b": 2}])
    braze.track(attributes=[{"external_id": "u", "a": None}])
    assert braze_sandbox.store.find_user(external_id="u").custom_attributes == {"b": 2}


def test_inc_increments_and_starts_from_zero(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "n": {"inc": 3}}])
    braze.track(attributes=[{"external_id": "u", "n": {"inc": -1}}])
    assert braze_sandbox.store.find_user(external_id="u").custom_attributes == {"n": 2}


def test_simple_array_add_and_remove_deduplicate_and_move_readded_to_end(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "tags": ["a", "b", "c"]}])
    braze.track(attributes=[{"external_id": "u", "tags": {"add": ["a", "d"], "remove": ["b"]}}])
    assert braze_sandbox.store.find_user(external_id="u").custom_attributes["tags"] == ["c", "a", "d"]


def test_simple_array_keeps_the_newest_25_elements(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "tags": [str(i) for i in range(30)]}])
    assert braze_sandbox.store.find_user(external_id="u").custom_attributes["tags"] == [str(i) for i in range(5, 30)]


def test_nested_object_is_overwritten_without_merge_objects(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "car": {"make": "VW", "model": "Golf"}}])
    braze.track(attributes=[{"external_id": "u", "car": {"model": "Polo"}}])
    assert braze_sandbox.store.find_user(external_id="u").custom_attributes["car"] == {"model": "Polo"}


def test_nested_object_is_deep_merged_with_merge_objects(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "car": {"make": "VW", "spec": {"hp": 90, "doors": 5}}}])
    braze.track(attributes=[{"external_id": "u", "_merge_objects": True, "car": {"spec": {"hp": 110}}}])
    assert braze_sandbox.store.find_user(external_id="u").custom_attributes["car"] == {
        "make": "VW",
        "spec": {"hp": 110, "doors": 5},
    }


def test_array_of_objects_add_remove_update(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "pets": [{"id": 1, "name": "Rex"}, {"id": 2, "name": "Tom"}]}])
    braze.track(
        attributes=[
            {
                "external_id": "u",
                "_merge_objects": True,
                "pets": {
                    "$add": [{"id": 3, "name": "Kit"}],
                    "$remove": [{"$identifier_key": "id", "$identifier_value": 2}],
                    "$update": [{"$identifier_key": "id", "$identifier_value": 1, "$new_object": {"age": 4}}],
                },
            }
        ]
    )
    assert braze_sandbox.store.find_user(external_id="u").custom_attributes["pets"] == [
        {"id": 1, "name": "Rex", "age": 4},
        {"id": 3, "name": "Kit"},
    ]


@pytest.mark.parametrize(
    "bad_value",
    [
        {"when": {"$time": "not a date"}},
        {"when": {"$time": None}},
        {"a": None},
        {"a.b": 1},
        {"$a": 1},
        {"a b": 1},
        {"blob": "x" * 255, "more": ["y" * 250] * 400},
    ],
    ids=["bad-time", "null-time", "null-inside", "dot-key", "dollar-key", "space-key", "over-100kb"],
)
def test_invalid_nested_value_drops_every_nested_update_of_the_request(braze_sandbox, braze, bad_value):
    braze.track(attributes=[{"external_id": "u", "profile": {"old": True}}])
    response = braze.track(
        attributes=[
            {"external_id": "u", "profile": {"new": True}, "plain": "kept"},
            {"external_id": "v", "pets": [{"id": 1}], "bad": bad_value, "first_name": "V"},
        ]
    )
    assert response.status_code == 201 and "errors" not in response.json()
    u, v = braze_sandbox.store.find_user(external_id="u"), braze_sandbox.store.find_user(external_id="v")
    assert u.custom_attributes == {"profile": {"old": True}, "plain": "kept"}
    assert v.custom_attributes == {} and v.attributes == {"first_name": "V"}


def test_valid_nested_time_is_stored(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "trip": {"start": {"$time": "2024-03-01"}}}])
    assert braze_sandbox.store.find_user(external_id="u").custom_attributes == {
        "trip": {"start": {"$time": "2024-03-01"}}
    }


def test_update_without_merge_objects_drops_nested_updates(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "pets": [{"id": 1}]}])
    braze.track(
        attributes=[
            {
                "external_id": "u",
                "pets": {"$update": [{"$identifier_key": "id", "$identifier_value": 1, "$new_object": {"age": 2}}]},
            }
        ]
    )
    assert braze_sandbox.store.find_user(external_id="u").custom_attributes["pets"] == [{"id": 1}]


@pytest.mark.parametrize(
    "attributes",
    [
        {"gender": "male"},
        {"dob": "01/02/1990"},
        {"email_subscribe": "yes"},
        {"k" * 256: 1},
        {"s": "v" * 256},
        {"n": {"inc": "1"}},
        {"subscription_groups": [{"subscription_group_id": "g", "subscription_state": "maybe"}]},
    ],
    ids=["gender", "dob", "email_subscribe", "long-key", "long-string", "inc-string", "group-state"],
)
def test_invalid_attribute_value_is_an_error_for_that_object(braze_sandbox, braze, attributes):
    response = braze.track(attributes=[{"external_id": "bad", **attributes}, {"external_id": "good"}])
    assert [(e["input_array"], e["index"]) for e in response.json()["errors"]] == [("attributes", 0)]
    assert [u.external_id for u in braze_sandbox.store.users()] == ["good"]


def test_unknown_country_is_stored_as_null(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "country": "Germany", "home_city": "Bonn"}])
    assert braze_sandbox.store.find_user(external_id="u").attributes == {"home_city": "Bonn"}


def test_email_subscribe_sets_profile_and_global_state(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "email": "u@x.io", "email_subscribe": "unsubscribed"}])
    assert braze_sandbox.store.find_user(external_id="u").email_subscribe == "unsubscribed"
    assert braze_sandbox.store.unsubscribed_emails() == ["u@x.io"]


def test_subscription_groups_update_every_profile_sharing_the_email(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "a", "email": "s@x.io"}, {"external_id": "b", "email": "s@x.io"}])
    braze.track(
        attributes=[
            {
                "external_id": "a",
                "subscription_groups": [{"subscription_group_id": "g1", "subscription_state": "unsubscribed"}],
            }
        ]
    )
    assert braze_sandbox.store.subscription_state("g1", external_id="b") == "unsubscribed"


# --- billing and counters -----------------------------------------------------------------------------


def test_data_points_count_each_attribute_key_event_and_purchase_but_not_ids_flags_or_subscriptions(
    braze_sandbox, braze
):
    braze.track(
        attributes=[
            {
                "external_id": "u",
                "_update_existing_only": False,
                "_merge_objects": True,
                "first_name": "A",
                "n": 1,
                "email_subscribe": "subscribed",
                "subscription_groups": [{"subscription_group_id": "g", "subscription_state": "subscribed"}],
            }
        ],
        events=[{"external_id": "u", "name": "e", "time": T}],
        purchases=[{"external_id": "u", "product_id": "p", "currency": "USD", "price": 1, "quantity": 3, "time": T}],
    )
    assert braze_sandbox.store.data_points == 4


def test_unchanged_attribute_still_costs_a_data_point(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "n": 1}])
    braze.track(attributes=[{"external_id": "u", "n": 1}])
    assert braze_sandbox.store.data_points == 2


def test_profile_counts_attribute_objects_applied(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "n": 1}, {"external_id": "u", "m": 2}, {"bad": 1}])
    assert braze_sandbox.store.find_user(external_id="u").attribute_objects_applied == 2


# --- variants -----------------------------------------------------------------------------------------


def test_track_sync_takes_one_object_and_returns_the_profile(braze_sandbox, braze):
    response = braze.post("/users/track/sync", {"attributes": [{"external_id": "s", "first_name": "S"}]})
    assert response.status_code == 201
    assert response.json()["users"][0]["first_name"] == "S"
    assert braze.post("/users/track/sync", {"attributes": [{"external_id": "s"}] * 2}).status_code == 400


def test_track_bulk_refuses_more_than_100_objects_for_one_profile(braze_sandbox, braze):
    response = braze.post("/users/track/bulk", {"events": [{"external_id": "b", "name": "n", "time": T}] * 101})
    assert response.status_code == 400 and braze_sandbox.store.users() == []


def test_mau_contract_limit_of_50_objects_per_request():
    with BrazeSandbox(api_keys={"k": None}, endpoint_limits={"users/track": {"max_total_items": 50}}) as sandbox:
        import requests

        response = requests.post(
            sandbox.url + "/users/track",
            json={
                "attributes": [{"external_id": f"u{i}"} for i in range(30)],
                "events": [{"external_id": "u", "name": "n", "time": T}] * 21,
            },
            headers={"Authorization": "Bearer k"},
            timeout=5,
        )
        assert response.status_code == 400 and sandbox.store.users() == []


def test_email_subscribe_before_email_in_the_object_still_sets_the_global_state(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "email_subscribe": "unsubscribed", "email": "late@x.io"}])
    assert braze_sandbox.store.email_state("late@x.io") == "unsubscribed"
