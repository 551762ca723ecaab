"""The Web API browsers call: ``/web/v2/subscriptions/{org}/get|update`` and ``/web/v2/consent/{org}/get|update``."""

from __future__ import annotations

import pytest
import requests

from tests.helpers.ketch_sandbox import stored_count

EMAIL = "ada@example.com"
TOPICS = {"newsletter": {"email": {"status": "granted"}, "sms": {"status": "denied"}}}


def post(sandbox, path: str, body: dict, version: str = "v2") -> requests.Response:
    return requests.post(f"{sandbox.url}/web/{version}{path}", json=body, timeout=10)


def test_unknown_subject_has_no_subscriptions(web_only):
    answer = post(web_only, "/subscriptions/axonic/get", {"organizationCode": "axonic", "identities": {"email": EMAIL}})
    assert answer.status_code == 200
    assert answer.json() == {"organizationCode": "axonic", "identities": {"email": EMAIL}, "topics": {}, "controls": {}}


def test_update_then_get_round_trips_topics_and_controls(web_only):
    update = {
        "organizationCode": "axonic",
        "propertyCode": "website",
        "environmentCode": "production",
        "identities": {"email": EMAIL},
        "topics": TOPICS,
        "controls": {"global_unsubscribe": {"status": "denied"}},
        "collectedAt": 1_700_000_000,
    }
    assert post(web_only, "/subscriptions/axonic/update", update).status_code == 204
    get = {"propertyCode": "website", "identities": {"email": EMAIL}}
    answer = post(web_only, "/subscriptions/axonic/get", get).json()
    assert answer["topics"] == TOPICS
    assert answer["controls"] == {"global_unsubscribe": {"status": "denied"}}
    assert answer["collectedAt"] == 1_700_000_000 and answer["propertyCode"] == "website"


def test_update_merges_topics_per_channel(web_only):
    post(web_only, "/subscriptions/axonic/update", {"identities": {"email": EMAIL}, "topics": TOPICS})
    sms_only = {"newsletter": {"sms": {"status": "granted"}}}
    post(web_only, "/subscriptions/axonic/update", {"identities": {"email": EMAIL}, "topics": sms_only})
    topics = post(web_only, "/subscriptions/axonic/get", {"identities": {"email": EMAIL}}).json()["topics"]
    assert topics == {"newsletter": {"email": {"status": "granted"}, "sms": {"status": "granted"}}}


def test_an_older_collected_at_does_not_overwrite_a_newer_decision(web_only):
    identities = {"email": EMAIL}
    post(web_only, "/subscriptions/axonic/update", {"identities": identities, "topics": TOPICS, "collectedAt": 200})
    stale = {"newsletter": {"email": {"status": "denied"}}}
    post(web_only, "/subscriptions/axonic/update", {"identities": identities, "topics": stale, "collectedAt": 100})
    topics = post(web_only, "/subscriptions/axonic/get", {"identities": {"email": EMAIL}}).json()["topics"]
    assert topics["newsletter"]["email"] == {"status": "granted"}


def test_identities_named_together_share_one_subject(web_only):
    both = {"email": EMAIL, "account_id": "42"}
    post(web_only, "/subscriptions/axonic/update", {"identities": both, "topics": TOPICS})
    answer = post(web_only, "/subscriptions/axonic/get", {"identities": {"account_id": 42}}).json()
    assert answer["topics"] == TOPICS


def test_state_is_kept_per_organization(web_only):
    post(web_only, "/subscriptions/axonic/update", {"identities": {"email": EMAIL}, "topics": TOPICS})
    other = post(web_only, "/subscriptions/other_org/get", {"identities": {"email": EMAIL}}).json()
    assert other["topics"] == {} and other["organizationCode"] == "other_org"


def test_v3_serves_the_same_state(web_only):
    post(web_only, "/subscriptions/axonic/update", {"identities": {"email": EMAIL}, "topics": TOPICS})
    answer = post(web_only, "/subscriptions/axonic/get", {"identities": {"email": EMAIL}}, "v3")
    assert answer.json()["topics"] == TOPICS


@pytest.mark.parametrize(
    "body",
    [
        {"organizationCode": "someone_else", "identities": {"email": EMAIL}},
        {"identities": {}},
        {"topics": TOPICS},
        {"identities": {"email": EMAIL}, "topics": {"newsletter": {"email": {"status": "maybe"}}}},
    ],
    ids=["org-mismatch", "no-identities", "identities-missing", "bad-status"],
)
def test_invalid_update_is_400_and_changes_nothing(web_only, body):
    answer = post(web_only, "/subscriptions/axonic/update", body)
    assert answer.status_code == 400 and answer.json()["error"]["status"] == "invalid"
    assert web_only.preferences.snapshot() == {}


def test_invalid_json_is_400(web_only):
    answer = requests.post(f"{web_only.url}/web/v2/subscriptions/axonic/get", data=b"{", timeout=10)
    assert answer.status_code == 400


def test_consent_of_an_unknown_subject_is_204(web_only):
    assert post(web_only, "/consent/axonic/get", {"identities": {"email": EMAIL}}).status_code == 204


def test_consent_update_then_get(web_only):
    purposes = {"analytics": {"allowed": "true", "legalBasisCode": "consent_optin"}, "ads": {"allowed": "false"}}
    update = {"identities": {"email": EMAIL}, "purposes": purposes}
    assert post(web_only, "/consent/axonic/update", update).status_code == 204
    answer = post(web_only, "/consent/axonic/get", {"identities": {"email": EMAIL}})
    assert answer.status_code == 200 and answer.json()["purposes"] == purposes


def test_the_web_api_needs_no_credentials_and_allows_browsers(web_only):
    answer = requests.post(
        f"{web_only.url}/web/v2/subscriptions/axonic/get",
        json={"identities": {"email": EMAIL}},
        headers={"Origin": "https://shop.example"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "*"


def test_a_sent_webhook_shows_in_the_web_api(ketch):
    ketch.send_subscription_change(EMAIL, "newsletter", "email", "denied", submitted_at=1_700_000_500)
    ketch.send_control(EMAIL, "global_unsubscribe", "denied")
    answer = post(ketch, "/subscriptions/axonic/get", {"identities": {"email": EMAIL}}).json()
    assert answer["topics"] == {"newsletter": {"email": {"status": "denied"}}}
    assert answer["controls"] == {"global_unsubscribe": {"status": "denied"}}


def test_a_web_update_is_forwarded_to_the_receiver(ketch, store):
    controls = {"global_unsubscribe": {"status": "granted"}}
    update = {"identities": {"email": EMAIL}, "topics": TOPICS, "controls": controls}
    assert post(ketch, "/subscriptions/axonic/update", update).status_code == 204
    assert [d.kind for d in ketch.deliveries] == ["SubscriptionTopicRequest", "SubscriptionControlRequest"]
    event = store.get_event(ketch.deliveries[0].uid)
    assert sorted((c.topic, c.channel, c.status) for c in event.subscription_changes) == [
        ("newsletter", "email", "granted"),
        ("newsletter", "sms", "denied"),
    ]
    assert stored_count(store) == 2


def test_a_web_consent_update_is_forwarded_as_a_consent_request(ketch, store):
    purposes = {"analytics": {"allowed": "true", "legalBasisCode": "consent_optin"}}
    post(ketch, "/consent/axonic/update", {"identities": {"email": EMAIL}, "purposes": purposes})
    (delivery,) = ketch.deliveries
    assert delivery.status_code == 204
    changes = store.get_event(delivery.uid).consent_changes
    assert [(c.purpose, c.status, c.legal_basis) for c in changes] == [("analytics", "granted", "consent_optin")]


def test_web_updates_of_other_organizations_are_not_forwarded(ketch, store):
    post(ketch, "/subscriptions/other_org/update", {"identities": {"email": EMAIL}, "topics": TOPICS})
    assert ketch.deliveries == [] and stored_count(store) == 0


def test_forwarding_can_be_turned_off(ketch, store):
    ketch.forward_web_updates = False
    post(ketch, "/subscriptions/axonic/update", {"identities": {"email": EMAIL}, "topics": TOPICS})
    assert ketch.deliveries == [] and stored_count(store) == 0
