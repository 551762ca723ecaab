"""Planning a preference sync: mapping and collapsing Ketch changes into Braze decisions."""

from __future__ import annotations

import pytest

from airflow_provider_braze.ketch.events import ControlChange, KetchEvent, SubscriptionChange
from airflow_provider_braze.ketch.models import ALL_CHANNELS, Identity
from airflow_provider_braze.ketch.sync_plan import GLOBAL_EMAIL, GROUP, SyncMapping, Target, plan_sync

GROUPS = {"newsletter": {"email": "grp-news-email", "sms": "grp-news-sms"}, "offers": {"email": "grp-offers"}}
MAPPING = SyncMapping(GROUPS, {"email": "emails", "phone": "phones", "account": "external_ids"})


def identity(space: str, value: str, fmt: str = "raw") -> Identity:
    return Identity.model_validate({"identitySpace": space, "identityFormat": fmt, "identityValue": value})


def event(event_id: int, submitted: float, *changes, identities=None, controls=()) -> KetchEvent:
    return KetchEvent(
        uid=f"uid-{event_id}",
        api_version="subscription/v1",
        kind="SubscriptionTopicRequest",
        tenant="t",
        received_at=submitted,
        submitted_at=submitted,
        identities=tuple(identities or [identity("email", "Ada@Example.com")]),
        subscription_changes=tuple(SubscriptionChange(*c) for c in changes),
        control_changes=tuple(ControlChange(*c) for c in controls),
        event_id=event_id,
    )


def states(plan) -> dict:
    return {(d.target.kind, d.target.identifier, d.target.group_id): d.state for d in plan.decisions.values()}


def test_granted_and_denied_map_to_subscribed_and_unsubscribed_per_group():
    plan = plan_sync([event(1, 100, ("newsletter", "email", "granted"), ("offers", "email", "denied"))], MAPPING)
    assert states(plan) == {
        (GROUP, "ada@example.com", "grp-news-email"): "subscribed",
        (GROUP, "ada@example.com", "grp-offers"): "unsubscribed",
    }


def test_latest_submitted_choice_wins_whatever_the_arrival_order():
    events = [
        event(1, 300, ("newsletter", "email", "denied")),  # arrived first, made last
        event(2, 100, ("newsletter", "email", "granted")),
        event(3, 200, ("newsletter", "email", "granted")),
    ]
    plan = plan_sync(events, MAPPING)
    (decision,) = plan.decisions.values()
    assert (decision.state, decision.event_id, decision.events) == ("unsubscribed", 1, {1, 2, 3})


def test_equal_times_are_broken_by_event_id():
    plan = plan_sync(
        [event(7, 100, ("newsletter", "email", "denied")), event(9, 100, ("newsletter", "email", "granted"))], MAPPING
    )
    (decision,) = plan.decisions.values()
    assert decision.state == "subscribed" and decision.event_id == 9


def test_unmapped_topic_or_channel_is_skipped_with_its_reason():
    plan = plan_sync([event(1, 1, ("surveys", "email", "granted"), ("offers", "sms", "granted"))], MAPPING)
    assert plan.decisions == {}
    assert plan.skipped == {
        "topic 'surveys' x channel 'email' not in subscription_groups": 1,
        "topic 'offers' x channel 'sms' not in subscription_groups": 1,
    }
    assert plan.event_targets[1] == set()


def test_hashed_identities_are_skipped_not_guessed():
    plan = plan_sync(
        [event(1, 1, ("newsletter", "email", "granted"), identities=[identity("email", "5d41402abc4b2a76", "md5")])],
        MAPPING,
    )
    assert plan.decisions == {}
    assert plan.skipped["identity in 'email' is hashed (md5)"] == 1


def test_sms_groups_take_e164_phones_and_email_groups_take_emails():
    ids = [identity("email", "ada@example.com"), identity("phone", "+33 6 12-34-56-78")]
    plan = plan_sync(
        [event(1, 1, ("newsletter", "sms", "granted"), ("newsletter", "email", "granted"), identities=ids)], MAPPING
    )
    assert states(plan) == {
        (GROUP, "+33612345678", "grp-news-sms"): "subscribed",
        (GROUP, "ada@example.com", "grp-news-email"): "subscribed",
    }


def test_a_phone_that_is_not_e164_is_skipped():
    plan = plan_sync(
        [event(1, 1, ("newsletter", "sms", "granted"), identities=[identity("phone", "0612345678")])], MAPPING
    )
    assert plan.decisions == {} and plan.skipped["identity in 'phone' is not a valid phone"] == 1


def test_external_ids_address_every_channel():
    plan = plan_sync(
        [event(1, 1, ("newsletter", "sms", "denied"), identities=[identity("account", "acct-9")])], MAPPING
    )
    assert states(plan) == {(GROUP, "acct-9", "grp-news-sms"): "unsubscribed"}


def test_unsubscribe_all_sets_the_global_email_state():
    plan = plan_sync([event(1, 1, controls=[("global_subscription", "denied")])], MAPPING)
    assert states(plan) == {(GLOBAL_EMAIL, "ada@example.com", None): "unsubscribed"}


def test_other_controls_are_skipped():
    plan = plan_sync([event(1, 1, controls=[("cookie_banner", "denied")])], MAPPING)
    assert plan.decisions == {} and "not an unsubscribe-all control" in next(iter(plan.skipped))


def test_fingerprints_do_not_contain_the_identifier():
    target = Target(GROUP, "emails", "ada@example.com", "grp")
    assert len(target.fingerprint) == 64 and "ada" not in target.fingerprint
    assert target.fingerprint != Target(GROUP, "emails", "ada@example.com", "other").fingerprint


def test_identity_spaces_must_map_to_braze_identifier_kinds():
    with pytest.raises(ValueError, match="emails, phones, external_ids"):
        SyncMapping(GROUPS, {"email": "email_addresses"})


def test_a_topic_decision_naming_no_contact_method_sets_every_mapped_channel_of_the_topic():
    """Ketch's first subscription shapes (``{"newsletter": "denied"}``) name no contact method."""
    ada = [identity("email", "ada@example.com"), identity("phone", "+44 20 7946 0000")]
    plan = plan_sync([event(1, 100, ("newsletter", ALL_CHANNELS, "denied"), identities=ada)], MAPPING)
    assert states(plan) == {
        (GROUP, "ada@example.com", "grp-news-email"): "unsubscribed",
        (GROUP, "+442079460000", "grp-news-sms"): "unsubscribed",
    }


def test_a_later_per_channel_choice_wins_over_an_earlier_all_channels_one():
    events = [event(1, 100, ("newsletter", ALL_CHANNELS, "denied")), event(2, 200, ("newsletter", "email", "granted"))]
    plan = plan_sync(events, MAPPING)
    assert states(plan) == {(GROUP, "ada@example.com", "grp-news-email"): "subscribed"}
    assert plan.skipped == {"no identity that can address the 'sms' channel": 1}


def test_an_all_channels_decision_on_an_unmapped_topic_is_skipped_with_its_reason():
    plan = plan_sync([event(1, 1, ("surveys", ALL_CHANNELS, "granted"))], MAPPING)
    assert plan.decisions == {}
    assert plan.skipped == {"topic 'surveys' x channel '*' not in subscription_groups": 1}
