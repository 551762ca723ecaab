"""The forwarder protocol models: every kind parses, both topic shapes agree, bad bodies say which field."""

from __future__ import annotations

import base64
import json

import pytest

from airflow_provider_braze.ketch.models import (
    MAX_INLINE_RESULT_BYTES,
    AccessRequest,
    AccessResponse,
    AccessResult,
    AccessStatusBody,
    AccessStatusEvent,
    ConsentRequest,
    CorrectionRequest,
    DeleteRequest,
    DeleteResponse,
    DeleteStatusEvent,
    DSRStatusBody,
    Error,
    KetchValidationError,
    Metadata,
    RestrictProcessingRequest,
    SubscriptionControlRequest,
    SubscriptionTopicRequest,
    parse_message,
    parse_request,
)
from tests.helpers.ketch_payloads import (
    EMAIL,
    consent_request,
    control_request,
    delete_request,
    legacy_topic_request,
    rights_request,
    topic_request,
)


def test_spec_example_topic_request_parses_with_per_channel_statuses():
    message = parse_request(topic_request(uid="u-1"))
    assert isinstance(message, SubscriptionTopicRequest)
    assert message.metadata.uid == "u-1" and message.metadata.tenant == "axonic"
    topics = message.request.topics
    assert topics["competitions"]["email"].status == "granted"
    assert topics["competitions"]["sms"].status == "denied"
    assert message.request.submitted_timestamp == 1_700_000_000


def test_older_topic_shape_becomes_the_current_shape_with_allowed_as_granted():
    message = parse_request(legacy_topic_request())
    topics = {t: {c: s.status for c, s in channels.items()} for t, channels in message.request.topics.items()}
    assert topics == {"newsletter": {"email": "granted", "sms": "granted"}, "offers": {"email": "denied"}}


def test_allowed_is_accepted_in_the_current_shape_too():
    message = parse_request(topic_request(topics={"news": {"email": {"status": "allowed"}}}))
    assert message.request.topics["news"]["email"].status == "granted"


def test_both_shapes_serialise_to_the_current_shape():
    wire = parse_request(legacy_topic_request()).to_dict()
    assert wire["request"]["topics"]["newsletter"] == {"email": {"status": "granted"}, "sms": {"status": "granted"}}


def test_control_request_parses():
    message = parse_request(control_request(status="denied"))
    assert isinstance(message, SubscriptionControlRequest)
    assert message.request.controls["global_unsubscribe"].status == "denied"


def test_consent_request_parses_purposes_and_legal_basis():
    message = parse_request(consent_request())
    assert isinstance(message, ConsentRequest)
    assert message.request.purposes == {"analytics": "granted", "advertising": "denied"}
    assert message.request.legal_basis["analytics"] == "consent_optin"
    assert message.request.collected_at == 1_700_000_100


def test_consent_purposes_in_web_api_object_form_are_accepted():
    body = consent_request()
    body["request"]["purposes"] = {"analytics": {"allowed": "true"}, "advertising": {"allowed": "false"}}
    assert parse_request(body).request.purposes == {"analytics": "granted", "advertising": "denied"}


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("DeleteRequest", DeleteRequest),
        ("AccessRequest", AccessRequest),
        ("CorrectionRequest", CorrectionRequest),
        ("RestrictProcessingRequest", RestrictProcessingRequest),
    ],
)
def test_every_rights_request_kind_parses(kind, model):
    message = parse_request(rights_request(kind))
    assert isinstance(message, model)
    request = message.request
    assert request.callbacks[0].url == "https://ketch.example/callback"
    assert request.callbacks[0].headers == {"Authorization": "Bearer callback-secret"}
    assert request.subject.email == EMAIL and request.subject.first_name == "Ada"
    assert request.submitted_timestamp == 1_700_000_200 and request.due_timestamp == 1_702_592_200


def test_subject_keeps_address_fields_it_does_not_model():
    subject = parse_request(delete_request()).request.subject
    assert subject.to_dict()["addressLine1"] == "1 Road"


def test_identity_format_defaults_to_raw_and_numbers_become_text():
    body = topic_request()
    body["request"]["identities"] = [{"identitySpace": "account_id", "identityValue": 123}]
    identity = parse_request(body).request.identities[0]
    assert identity.identity_format == "raw" and identity.identity_value == "123" and not identity.is_hashed


def test_hashed_identity_formats_are_accepted():
    body = topic_request()
    body["request"]["identities"] = [
        {"identitySpace": "email", "identityFormat": "md5", "identityValue": "0cc175b9c0f1b6a831c399e269772661"},
        {"identitySpace": "email", "identityFormat": "SHA1", "identityValue": "86f7e437faa5a7fce15d1ddcb9ea"},
    ]
    formats = [i.identity_format for i in parse_request(body).request.identities]
    assert formats == ["md5", "sha1"]


def test_identity_values_are_left_out_of_repr():
    message = parse_request(delete_request())
    assert EMAIL not in repr(message)
    assert "callback-secret" not in repr(message)


def test_unknown_fields_are_ignored():
    body = topic_request()
    body["request"]["somethingNew"] = {"x": 1}
    body["extra"] = True
    assert isinstance(parse_request(body), SubscriptionTopicRequest)


def test_bytes_and_text_bodies_parse_like_dicts():
    body = topic_request(uid="u-2")
    assert parse_request(json.dumps(body).encode()).metadata.uid == "u-2"
    assert parse_request(json.dumps(body)).metadata.uid == "u-2"


# -- invalid bodies -------------------------------------------------------------------------------


def _field_of(body) -> str | None:
    with pytest.raises(KetchValidationError) as caught:
        parse_request(body)
    return caught.value.field


@pytest.mark.parametrize("text", [b"{", b"not json", b"", b'{"a": NaN}', b"\xff\xfe\x00"])
def test_malformed_json_is_rejected_without_a_field(text):
    assert _field_of(text) is None


@pytest.mark.parametrize("text", [b"[]", b"42", b'"text"', b"null"])
def test_a_body_that_is_not_an_object_is_rejected(text):
    with pytest.raises(KetchValidationError, match="JSON object"):
        parse_request(text)


def test_missing_api_version_is_named():
    body = topic_request()
    del body["apiVersion"]
    assert _field_of(body) == "apiVersion"


def test_unknown_api_version_is_named():
    assert _field_of({**topic_request(), "apiVersion": "subscription/v9"}) == "apiVersion"


def test_kind_of_another_api_version_is_named():
    assert _field_of({**topic_request(), "kind": "DeleteRequest"}) == "kind"


def test_a_response_kind_is_not_a_request():
    body = DeleteResponse(metadata=Metadata(uid="x"), response=DSRStatusBody(status="pending")).to_dict()
    assert _field_of(body) == "kind"


def test_missing_uid_is_named():
    body = topic_request()
    del body["metadata"]["uid"]
    assert _field_of(body) == "metadata.uid"


def test_overlong_uid_is_rejected():
    assert _field_of(topic_request(uid="x" * 129)) == "metadata.uid"


def test_unknown_topic_status_names_the_topic_and_channel():
    body = topic_request(topics={"news": {"email": {"status": "maybe"}}})
    assert _field_of(body) == "request.topics.news.email.status"


def test_legacy_topic_without_contact_methods_list_is_rejected():
    body = topic_request(topics={"news": {"contactMethods": "email", "status": "granted"}})
    with pytest.raises(KetchValidationError, match="contactMethods"):
        parse_request(body)


def test_empty_topics_are_rejected():
    assert _field_of(topic_request(topics={"news": {}})) == "request.topics"
    body = topic_request()
    body["request"]["topics"] = {}
    assert _field_of(body) == "request.topics"


def test_missing_identities_are_rejected():
    body = topic_request()
    del body["request"]["identities"]
    assert _field_of(body) == "request.identities"


def test_identities_without_any_value_are_rejected():
    body = control_request()
    body["request"]["identities"] = [{"identitySpace": "email", "identityValue": "  "}]
    assert _field_of(body) == "request.identities"


def test_unknown_identity_format_is_named():
    body = topic_request()
    body["request"]["identities"][0]["identityFormat"] = "sha256"
    assert _field_of(body) == "request.identities[0].identityFormat"


def test_callback_url_must_be_http():
    body = delete_request(callback_url="ftp://ketch.example/cb")
    assert _field_of(body) == "request.callbacks[0].url"


def test_validation_messages_never_repeat_the_values_sent():
    body = topic_request()
    body["request"]["identities"][0]["identityFormat"] = EMAIL
    body["request"]["submittedTimestamp"] = EMAIL
    with pytest.raises(KetchValidationError) as caught:
        parse_request(body)
    assert EMAIL not in str(caught.value)
    assert len(caught.value.problems) == 2


# -- answers, status events, results, errors ------------------------------------------------------


def test_delete_response_serialises_with_request_id_spelled_as_ketch_does():
    answer = DeleteResponse(
        metadata=Metadata(uid="r-1", tenant="axonic"),
        response=DSRStatusBody(status="pending", reason="requested", request_id="r-1"),
    )
    assert answer.to_dict() == {
        "apiVersion": "dsr/v1",
        "kind": "DeleteResponse",
        "metadata": {"uid": "r-1", "tenant": "axonic"},
        "response": {"status": "pending", "reason": "requested", "requestID": "r-1"},
    }


def test_dsr_status_rejects_unknown_status_and_reason():
    with pytest.raises(ValueError):
        DSRStatusBody(status="done")
    with pytest.raises(ValueError):
        DSRStatusBody(status="completed", reason="because")


def test_inline_json_result_round_trips_as_base64():
    result = AccessResult.inline_json({"external_id": "123", "email": EMAIL})
    assert result.content_type == "application/json"
    assert json.loads(result.decoded()) == {"external_id": "123", "email": EMAIL}
    assert result.to_dict()["data"] == base64.b64encode(result.decoded()).decode()


def test_access_status_event_with_results_parses_back():
    event = AccessStatusEvent(
        metadata=Metadata(uid="r-2", tenant="axonic"),
        event=AccessStatusBody(status="completed", reason="executed", results=[AccessResult.inline_json({"a": 1})]),
    )
    parsed = parse_message(event.to_json())
    assert isinstance(parsed, AccessStatusEvent) and parsed.event.results[0].decoded() == b'{"a":1}'


def test_delete_status_event_and_access_response_parse_back():
    event = DeleteStatusEvent(metadata=Metadata(uid="x"), event=DSRStatusBody(status="in_progress"))
    assert isinstance(parse_message(event.to_dict()), DeleteStatusEvent)
    answer = AccessResponse(metadata=Metadata(uid="x"), response=AccessStatusBody(status="pending"))
    assert isinstance(parse_message(answer.to_dict()), AccessResponse)


def test_url_result_needs_no_data():
    result = AccessResult(url="https://files.example/export.json", headers={"Authorization": "Bearer t"})
    assert result.decoded() == b""


def test_a_result_needs_exactly_one_of_url_and_data():
    with pytest.raises(ValueError):
        AccessResult(headers={"Content-Type": "application/json"})
    with pytest.raises(ValueError):
        AccessResult(url="https://x.example/a", data="e30=", headers={"Content-Type": "application/json"})


def test_inline_result_must_be_base64_of_the_declared_type():
    with pytest.raises(ValueError, match="base64"):
        AccessResult(data="not base64!", headers={"Content-Type": "application/json"})
    with pytest.raises(ValueError, match="Content-Type"):
        AccessResult(data="e30=", headers={"Content-Type": "text/csv"})
    with pytest.raises(ValueError, match="not valid JSON"):
        AccessResult(data=base64.b64encode(b"{oops").decode(), headers={"Content-Type": "application/json"})


def test_inline_result_above_3_5_mb_is_rejected():
    pdf = base64.b64encode(b"%" * (MAX_INLINE_RESULT_BYTES + 1)).decode()
    with pytest.raises(ValueError, match="inline result"):
        AccessResult(data=pdf, headers={"Content-Type": "application/pdf"})
    at_limit = base64.b64encode(b"%" * MAX_INLINE_RESULT_BYTES).decode()
    AccessResult(data=at_limit, headers={"content-type": "application/pdf"})


def test_json_results_above_1_mb_in_total_are_rejected():
    half = AccessResult.inline_json({"blob": "x" * 600_000})
    AccessStatusBody(status="completed", results=[half])
    with pytest.raises(ValueError, match="JSON results total"):
        AccessStatusBody(status="completed", results=[half, half])


def test_error_envelope_parses():
    body = {
        "apiVersion": "dsr/v1",
        "kind": "Error",
        "metadata": {"uid": "x", "tenant": "axonic"},
        "error": {"code": 400, "status": "invalid", "message": "bad"},
    }
    parsed = parse_message(body)
    assert isinstance(parsed, Error) and parsed.error.status == "invalid"
    with pytest.raises(KetchValidationError):
        parse_message({**body, "error": {"code": 400, "status": "broken"}})
