"""Normalisation: every accepted request becomes one flat, stored form."""

from __future__ import annotations

import json

from airflow_provider_braze.ketch.events import (
    ConsentChange,
    ControlChange,
    SubscriptionChange,
    epoch_seconds,
    normalise,
)
from airflow_provider_braze.ketch.models import parse_request
from tests.helpers.ketch_payloads import (
    EMAIL,
    access_request,
    consent_request,
    control_request,
    delete_request,
    legacy_topic_request,
    topic_request,
)


def _event(body, **kwargs):
    return normalise(parse_request(body), received_at=1_800_000_000.5, **kwargs)


def test_topic_request_becomes_flat_topic_channel_status_changes():
    event = _event(topic_request(uid="u-1"))
    assert event.uid == "u-1" and event.kind == "SubscriptionTopicRequest" and event.tenant == "axonic"
    assert event.submitted_at == 1_700_000_000 and event.received_at == 1_800_000_000.5
    assert event.subscription_changes == (
        SubscriptionChange("competitions", "email", "granted"),
        SubscriptionChange("competitions", "sms", "denied"),
        SubscriptionChange("marketing", "email", "denied"),
        SubscriptionChange("marketing", "sms", "denied"),
    )
    assert [(i.identity_space, i.identity_value) for i in event.identities] == [("email", EMAIL), ("account_id", "123")]
    assert event.is_syncable and event.rights_request is None


def test_legacy_topic_shape_normalises_like_the_current_one():
    event = _event(legacy_topic_request())
    assert event.subscription_changes == (
        SubscriptionChange("newsletter", "email", "granted"),
        SubscriptionChange("newsletter", "sms", "granted"),
        SubscriptionChange("offers", "email", "denied"),
    )


def test_control_request_becomes_control_changes():
    event = _event(control_request(status="denied"))
    assert event.control_changes == (ControlChange("global_unsubscribe", "denied"),)
    assert event.is_syncable and event.subscription_changes == ()


def test_consent_request_uses_collected_at_and_is_not_syncable():
    event = _event(consent_request())
    assert event.submitted_at == 1_700_000_100
    assert event.consent_changes == (
        ConsentChange("analytics", "granted", "consent_optin"),
        ConsentChange("advertising", "denied", "consent_optin"),
    )
    assert not event.is_syncable


def test_rights_request_keeps_id_kind_callbacks_and_due_date():
    event = _event(delete_request(uid="r-1"))
    rights = event.rights_request
    assert rights.request_id == "r-1" and rights.kind == "DeleteRequest"
    assert rights.callbacks[0].url == "https://ketch.example/callback"
    assert rights.due_at == 1_702_592_200 and rights.regulation == "gdpr"
    assert rights.subject["email"] == EMAIL
    assert not event.is_syncable
    assert _event(access_request()).rights_request.kind == "AccessRequest"


def test_missing_submitted_timestamp_falls_back_to_received_at():
    body = topic_request()
    del body["request"]["submittedTimestamp"]
    assert _event(body).submitted_at == 1_800_000_000.5


def test_millisecond_timestamps_are_read_as_seconds():
    assert _event(topic_request(submitted=1_700_000_000_123)).submitted_at == 1_700_000_000.123
    assert epoch_seconds(1_700_000_000) == 1_700_000_000 and epoch_seconds(None) is None


def test_controller_defaults_to_the_tenant():
    assert _event(control_request()).controller == "axonic"


def test_empty_identities_are_dropped_when_another_is_usable():
    body = topic_request()
    body["request"]["identities"].append({"identitySpace": "phone", "identityValue": ""})
    assert [i.identity_space for i in _event(body).identities] == ["email", "account_id"]


def test_original_json_is_kept_verbatim():
    raw = json.dumps(topic_request(uid="u-raw"), indent=2).encode()
    event = normalise(parse_request(raw), payload=raw)
    assert event.payload == raw.decode()


def test_payload_defaults_to_the_wire_form():
    event = _event(topic_request(uid="u-3"))
    assert json.loads(event.payload)["metadata"]["uid"] == "u-3"


def test_repr_hides_personal_data_and_secrets():
    text = repr(_event(delete_request()))
    assert EMAIL not in text and "callback-secret" not in text
