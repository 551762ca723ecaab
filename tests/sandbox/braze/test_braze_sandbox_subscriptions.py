"""Subscription-group endpoints in the sandbox."""

from __future__ import annotations

BOTH = "Either an email address or a phone number should be provided, but not both."
TOO_MANY = "The max number of ids per request was exceeded"


def _users(braze):
    braze.track(
        attributes=[
            {"external_id": "a", "email": "a@x.io", "phone": "+15550001"},
            {"external_id": "b", "email": "shared@x.io"},
            {"external_id": "c", "email": "shared@x.io"},
        ]
    )


def test_v1_sets_state_for_external_ids_and_answers_201(braze_sandbox, braze):
    _users(braze)
    response = braze.post(
        "/subscription/status/set",
        {"subscription_group_id": "g1", "subscription_state": "unsubscribed", "external_id": ["a"]},
    )
    assert (response.status_code, response.json()) == (201, {"message": "success"})
    assert braze_sandbox.store.subscription_state("g1", external_id="a") == "unsubscribed"


def test_v1_email_updates_every_profile_with_that_email(braze_sandbox, braze):
    _users(braze)
    braze.post(
        "/subscription/status/set",
        {"subscription_group_id": "g1", "subscription_state": "subscribed", "email": "shared@x.io"},
    )
    assert braze_sandbox.store.subscription_state("g1", external_id="b") == "subscribed"
    assert braze_sandbox.store.subscription_state("g1", external_id="c") == "subscribed"


def test_v1_email_and_phone_together_is_the_documented_400(braze_sandbox, braze):
    _users(braze)
    response = braze.post(
        "/subscription/status/set",
        {
            "subscription_group_id": "g1",
            "subscription_state": "subscribed",
            "email": ["a@x.io"],
            "phone": ["+15550001"],
        },
    )
    assert (response.status_code, response.json()["message"]) == (400, BOTH)
    assert braze_sandbox.store.subscription_state("g1", external_id="a") is None


def test_v1_external_ids_and_emails_go_together(braze_sandbox, braze):
    # Braze's page (https://www.braze.com/docs/api/endpoints/subscription_groups/post_update_user_subscription_group_status):
    # external_id "and/or" email (or phone).
    _users(braze)
    response = braze.post(
        "/subscription/status/set",
        {
            "subscription_group_id": "g1",
            "subscription_state": "subscribed",
            "external_id": ["a"],
            "email": ["shared@x.io"],
        },
    )
    assert response.status_code == 201
    assert [braze_sandbox.store.subscription_state("g1", external_id=x) for x in "abc"] == ["subscribed"] * 3


def test_v1_with_51_external_ids_is_400(braze):
    response = braze.post(
        "/subscription/status/set",
        {"subscription_group_id": "g1", "subscription_state": "subscribed", "external_id": [str(i) for i in range(51)]},
    )
    assert (response.status_code, response.json()["message"]) == (400, TOO_MANY)


def test_v1_invalid_state_is_400(braze):
    response = braze.post(
        "/subscription/status/set",
        {"subscription_group_id": "g1", "subscription_state": "opted_in", "external_id": ["a"]},
    )
    assert response.status_code == 400


def test_unknown_group_is_400_once_groups_are_declared(braze_sandbox, braze):
    braze_sandbox.add_subscription_group("known", channel="email", name="Newsletter")
    response = braze.post(
        "/subscription/status/set",
        {"subscription_group_id": "other", "subscription_state": "subscribed", "external_id": ["a"]},
    )
    assert response.status_code == 400


def test_v2_sets_several_groups_in_one_call(braze_sandbox, braze):
    _users(braze)
    response = braze.post(
        "/v2/subscription/status/set",
        {
            "subscription_groups": [
                {"subscription_group_id": "g1", "subscription_state": "subscribed", "external_ids": ["a"]},
                {"subscription_group_id": "g2", "subscription_state": "unsubscribed", "external_ids": ["a", "b"]},
            ]
        },
    )
    assert response.status_code == 201
    assert braze_sandbox.store.find_user(external_id="a").subscription_groups == {
        "g1": "subscribed",
        "g2": "unsubscribed",
    }


def test_v2_counts_identifiers_across_entries_against_50(braze_sandbox, braze):
    _users(braze)
    response = braze.post(
        "/v2/subscription/status/set",
        {
            "subscription_groups": [
                {
                    "subscription_group_id": "g1",
                    "subscription_state": "subscribed",
                    "external_ids": ["a"] + [f"x{i}" for i in range(29)],
                },
                {
                    "subscription_group_id": "g2",
                    "subscription_state": "subscribed",
                    "external_ids": [f"y{i}" for i in range(21)],
                },
            ]
        },
    )
    assert (response.status_code, response.json()["message"]) == (400, TOO_MANY)
    assert braze_sandbox.store.subscription_state("g1", external_id="a") is None


def test_v2_emails_and_phones_in_one_request_is_400(braze):
    response = braze.post(
        "/v2/subscription/status/set",
        {
            "subscription_groups": [
                {"subscription_group_id": "g1", "subscription_state": "subscribed", "emails": ["a@x.io"]},
                {"subscription_group_id": "g2", "subscription_state": "subscribed", "phones": ["+15550001"]},
            ]
        },
    )
    assert (response.status_code, response.json()["message"]) == (400, BOTH)


def test_v2_entry_without_identifiers_is_400(braze):
    response = braze.post(
        "/v2/subscription/status/set",
        {"subscription_groups": [{"subscription_group_id": "g1", "subscription_state": "subscribed"}]},
    )
    assert response.status_code == 400


def test_status_get_reports_states_per_identifier(braze_sandbox, braze):
    _users(braze)
    braze.post(
        "/subscription/status/set",
        {"subscription_group_id": "g1", "subscription_state": "subscribed", "external_id": ["a"]},
    )
    response = braze.get("/subscription/status/get", {"subscription_group_id": "g1", "external_id[]": ["a", "b", "zz"]})
    assert response.json() == {"message": "success", "status": {"a": "Subscribed", "b": "Unknown", "zz": "Unknown"}}


def test_status_get_with_email_and_phone_but_no_external_id_is_400(braze):
    response = braze.get(
        "/subscription/status/get", {"subscription_group_id": "g1", "email": "a@x.io", "phone": "+1555"}
    )
    assert (response.status_code, response.json()["message"]) == (400, BOTH)


def test_status_get_uses_only_external_id_when_given(braze_sandbox, braze):
    _users(braze)
    response = braze.get(
        "/subscription/status/get", {"subscription_group_id": "g1", "external_id": "a", "email": "a@x.io"}
    )
    assert list(response.json()["status"]) == ["a"]


def test_user_status_lists_groups_with_a_state(braze_sandbox, braze):
    braze_sandbox.add_subscription_group("g1", channel="email", name="News")
    _users(braze)
    braze.post(
        "/subscription/status/set",
        {"subscription_group_id": "g1", "subscription_state": "unsubscribed", "external_id": ["a"]},
    )
    response = braze.get("/subscription/user/status", {"external_id[]": ["a"]})
    assert response.json()["users"] == [
        {
            "email": "a@x.io",
            "external_id": "a",
            "phone": "+15550001",
            "subscription_groups": [{"channel": "email", "id": "g1", "name": "News", "status": "Unsubscribed"}],
        }
    ]


def test_user_status_limit_over_100_is_400(braze):
    assert braze.get("/subscription/user/status", {"external_id": "a", "limit": 101}).status_code == 400
