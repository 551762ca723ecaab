"""Every webhook kind the sandbox sends is accepted and stored by the provider's real receiver."""

from __future__ import annotations

import socket

import pytest

from airflow_provider_braze.ketch.models import parse_request
from airflow_provider_braze.sandbox.ketch import DeliveryRetry, KetchSandbox
from tests.helpers.ketch_sandbox import FailFirst, stored_count
from tests.helpers.secrets import CALLBACK_TOKEN, TEST_KETCH_TOKEN

EMAIL = "ada@example.com"


@pytest.fixture
def unstarted():
    """``unstarted(url, token=...)``: a sandbox that only sends (its server is not needed), closed afterwards."""
    made: list[KetchSandbox] = []

    def make(url: str, token: str = TEST_KETCH_TOKEN) -> KetchSandbox:
        made.append(KetchSandbox(url, token, retry=DeliveryRetry(delay=0.0)))
        return made[-1]

    yield make
    for sandbox in made:
        sandbox.stop()


def test_subscription_change_is_stored_as_one_topic_decision(ketch, store):
    delivery = ketch.send_subscription_change(EMAIL, "newsletter", "email", "granted", submitted_at=1_700_000_000)
    assert delivery.status_code == 202 and len(delivery.attempts) == 1
    event = store.get_event(delivery.uid)
    assert event.kind == "SubscriptionTopicRequest" and event.tenant == "axonic"
    assert [(c.topic, c.channel, c.status) for c in event.subscription_changes] == [("newsletter", "email", "granted")]
    assert event.submitted_at == 1_700_000_000
    (identity,) = event.identities
    assert (identity.identity_space, identity.identity_format, identity.identity_value) == ("email", "raw", EMAIL)


def test_each_send_has_a_fresh_uuid4_uid(ketch):
    first = ketch.send_subscription_change(EMAIL, "newsletter", "email", "granted")
    second = ketch.send_subscription_change(EMAIL, "newsletter", "email", "granted")
    assert first.uid != second.uid
    assert len(first.uid) == 36 and first.uid[14] == "4"


def test_bodies_are_valid_protocol_messages(ketch):
    ketch.send_subscription_changes(EMAIL, {"news": {"email": "granted", "sms": "denied"}})
    ketch.send_control(EMAIL, "global_unsubscribe", "denied")
    ketch.send_consent(EMAIL, {"analytics": "granted"})
    ketch.send_delete_request(EMAIL)
    ketch.send_access_request(EMAIL)
    kinds = [parse_request(d.body).kind for d in ketch.deliveries]
    assert kinds == [
        "SubscriptionTopicRequest",
        "SubscriptionControlRequest",
        "ConsentRequest",
        "DeleteRequest",
        "AccessRequest",
    ]


def test_older_topic_shape_is_stored_in_the_current_form(ketch, store):
    topics = {"news": {"email": "granted", "sms": "granted"}}
    delivery = ketch.send_subscription_changes(EMAIL, topics, legacy_shape=True)
    assert delivery.body["request"]["topics"] == {"news": {"contactMethods": ["email", "sms"], "status": "allowed"}}
    assert delivery.status_code == 202
    changes = store.get_event(delivery.uid).subscription_changes
    assert sorted((c.topic, c.channel, c.status) for c in changes) == [
        ("news", "email", "granted"),
        ("news", "sms", "granted"),
    ]


def test_older_topic_shape_cannot_mix_statuses_in_one_topic(ketch):
    with pytest.raises(ValueError, match="mixes statuses"):
        ketch.send_subscription_changes(EMAIL, {"news": {"email": "granted", "sms": "denied"}}, legacy_shape=True)


def test_control_is_stored_as_a_control_change(ketch, store):
    delivery = ketch.send_control(EMAIL, "global_unsubscribe", "denied")
    assert delivery.status_code == 202
    changes = store.get_event(delivery.uid).control_changes
    assert [(c.control, c.status) for c in changes] == [("global_unsubscribe", "denied")]


def test_consent_is_answered_204_and_stored(ketch, store):
    purposes = {"analytics": "granted", "ads": "denied"}
    delivery = ketch.send_consent(EMAIL, purposes, legal_basis={"analytics": "consent_optin"})
    assert delivery.status_code == 204
    changes = store.get_event(delivery.uid).consent_changes
    assert sorted((c.purpose, c.status, c.legal_basis) for c in changes) == [
        ("ads", "denied", None),
        ("analytics", "granted", "consent_optin"),
    ]


@pytest.mark.parametrize("kind", ["delete", "access"])
def test_rights_request_is_answered_pending_and_carries_a_callback_to_the_sandbox(ketch, store, kind):
    send = ketch.send_delete_request if kind == "delete" else ketch.send_access_request
    delivery = send([EMAIL, {"identitySpace": "account_id", "identityValue": "42"}])
    assert delivery.status_code == 200
    answer = delivery.json()
    assert answer["kind"] == ("DeleteResponse" if kind == "delete" else "AccessResponse")
    assert answer["response"]["status"] == "pending" and answer["response"]["requestID"] == delivery.uid
    stored = store.rights.get_rights_request(delivery.uid)
    assert stored.status == "pending"
    assert [c.url for c in stored.callbacks] == [f"{ketch.url}/callbacks/{delivery.uid}"]
    assert stored.callbacks[0].headers == {"Authorization": f"Bearer {CALLBACK_TOKEN}"}
    assert stored.subject["email"] == EMAIL


def test_rights_request_options_it_does_not_take_are_refused_before_sending(unstarted):
    sandbox = unstarted("http://127.0.0.1:9/ketch/webhook")
    with pytest.raises(TypeError, match="'purposes'"):
        sandbox.send_delete_request(EMAIL, purposes=["marketing"])
    assert sandbox.deliveries == []


def test_a_failing_receiver_is_tried_again_with_the_same_uid(serve_receiver, store, unstarted):
    url, flaky = serve_receiver(wrap=lambda app: FailFirst(app, failures=2))
    delivery = unstarted(url).send_subscription_change(EMAIL, "newsletter", "email", "granted")
    assert [a.status_code for a in delivery.attempts] == [503, 503, 202]
    assert delivery.ok and flaky.calls == 3
    assert stored_count(store) == 1 and store.get_event(delivery.uid) is not None


def test_ketch_gives_up_after_three_tries(serve_receiver, store, unstarted):
    url, flaky = serve_receiver(wrap=lambda app: FailFirst(app, failures=10))
    delivery = unstarted(url).send_subscription_change(EMAIL, "newsletter", "email", "granted")
    assert [a.status_code for a in delivery.attempts] == [503, 503, 503]
    assert not delivery.ok and flaky.calls == 3 and stored_count(store) == 0


def test_an_unreachable_receiver_is_tried_three_times(unstarted):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    delivery = unstarted(f"http://127.0.0.1:{port}/ketch/webhook").send_control(EMAIL, "global_unsubscribe", "denied")
    assert [a.error for a in delivery.attempts] == ["ConnectionError"] * 3
    assert delivery.status_code is None and delivery.response is None


def test_the_receiver_refuses_another_token(receiver_url, store, unstarted):
    ketch = unstarted(receiver_url, token="not-the-token")
    delivery = ketch.send_subscription_change(EMAIL, "newsletter", "email", "granted")
    assert delivery.status_code == 401 and stored_count(store) == 0


def test_a_repeated_uid_is_stored_once(ketch, store):
    first = ketch.send_subscription_change(EMAIL, "newsletter", "email", "granted")
    again = ketch.send(first.body, redelivery=True)
    assert again.uid == first.uid and again.status_code == 202
    assert stored_count(store) == 1


def test_sending_needs_a_receiver(web_only):
    with pytest.raises(RuntimeError, match="no receiver"):
        web_only.send_subscription_change(EMAIL, "newsletter", "email", "granted")


def test_the_token_is_not_kept_anywhere_visible(ketch):
    ketch.send_delete_request(EMAIL)
    text = repr(ketch) + repr(ketch.deliveries) + str(ketch.state())
    assert TEST_KETCH_TOKEN not in text and CALLBACK_TOKEN not in text
