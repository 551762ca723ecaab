"""Every request shape Ketch has published for its forwarder protocol, through the real receiver.

``data/forwarder_requests.json`` holds each distinct request example of every commit of Ketch's
specification (https://github.com/ketch-com/ketch-forwarder: the README of 2022, ``api/*/v1/*.md``
since, and the shapes only the OpenAPI schemas give: a topic's contact method mapped to a bare
status, a control mapped to a bare status), each with the commit and file it comes from. The
documents' JSON slips (trailing commas, one missing comma) are corrected; nothing else is changed.

Each body is POSTed to the receiver as Ketch would, and the test asserts the answer the protocol
asks for, that the event is stored, and what it means once normalised.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from airflow_provider_braze.ketch.models import ALL_CHANNELS
from airflow_provider_braze.ketch.receiver import create_receiver_app
from airflow_provider_braze.state import KetchEventStore
from tests.helpers.secrets import RECEIVER_TOKEN

PUBLISHED = json.loads((Path(__file__).parent / "data" / "forwarder_requests.json").read_text())
AUTH = {"Authorization": f"Bearer {RECEIVER_TOKEN}"}
ANSWER = {"SubscriptionTopicRequest": 202, "SubscriptionControlRequest": 202, "ConsentRequest": 204}

#: What each subscription and consent example means, by its source (rights requests carry no changes).
MEANING = {
    "b29ca83:api/subscription/v1/SubscriptionTopic.md": [("global_subscription", ALL_CHANNELS, "denied")],
    "b29ca83:api/subscription/v1/SubscriptionControl.md": [("global_subscription", "denied")],
    "b29ca83:openapi/components/schemas/SubscriptionControlRequest.yaml": [("global_subscription", "denied")],
    "61bdcf7:api/subscription/v1/SubscriptionTopic.md": [
        ("competitions", "email", "granted"),
        ("competitions", "sms", "granted"),
        ("marketing", ALL_CHANNELS, "denied"),
    ],
    "61bdcf7:api/subscription/v1/SubscriptionControl.md": [("global_subscription", "denied")],
    "75cdace:api/subscription/v1/SubscriptionTopic.md": [
        ("competitions", "email", "granted"),
        ("competitions", "sms", "denied"),
        ("marketing", "email", "denied"),
        ("marketing", "sms", "denied"),
    ],
    "75cdace:openapi/components/schemas/SubscriptionTopicContactMethodStatus.yaml": [
        ("marketing", "email", "granted"),
        ("marketing", "sms", "denied"),
    ],
    **{
        f"{commit}:{path}": [
            ("advertising", "granted", "consent_optin"),
            ("data_sales", "granted", "consent_optout"),
            ("email_mktg", "denied", "disclosure"),
        ]
        for commit, path in [
            ("3e11088", "api/consent/v1/UpdateConsent.md"),
            ("00aac9e", "api/consent/v1/UpdateConsent.md"),
            ("75cdace", "api/consent/v1/Consent.md"),
        ]
    },
}


def _source(example: dict) -> str:
    return example["source"].split("@", 1)[1]


@pytest.fixture
def store(tmp_path):
    s = KetchEventStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.dispose()


@pytest.fixture
def client(store):
    with TestClient(create_receiver_app(store, RECEIVER_TOKEN)) as c:
        yield c


@pytest.mark.parametrize("example", PUBLISHED, ids=[f"{_source(e)}:{e['body']['kind']}" for e in PUBLISHED])
def test_every_published_request_is_answered_as_the_protocol_asks_and_stored(client, store, example):
    body = example["body"]
    kind, uid = body["kind"], body["metadata"]["uid"]

    response = client.post("/ketch/webhook", json=body, headers=AUTH)

    assert response.status_code == ANSWER.get(kind, 200), response.text
    event = store.get_event(uid)
    assert event.kind == kind
    changes = [
        tuple(vars(c).values()) for c in (*event.subscription_changes, *event.control_changes, *event.consent_changes)
    ]
    assert changes == MEANING.get(_source(example), [])
    if body["apiVersion"] == "dsr/v1":
        assert response.json()["kind"] == kind.replace("Request", "Response")
        assert response.json()["response"] == {"status": "pending", "reason": "requested", "requestID": uid}
        assert store.rights.get_rights_request(uid).kind == kind


def test_published_shapes_all_accepted_none_answered_5xx(store, client, capsys):
    """One receiver takes every published shape (each with its own uid, as Ketch would send them)."""
    answers = []
    for n, example in enumerate(PUBLISHED):
        body = {**example["body"], "metadata": {**example["body"]["metadata"], "uid": f"published-{n}"}}
        answers.append(client.post("/ketch/webhook", json=body, headers=AUTH).status_code)

    commits = {e["source"].split("@")[1].split(":")[0] for e in PUBLISHED}
    kinds = {e["body"]["kind"] for e in PUBLISHED}
    with capsys.disabled():
        print(
            f"\nKetch forwarder shapes: {len(PUBLISHED)} published requests from {len(commits)} commits, "
            f"{len(kinds)} kinds; accepted {sum(a < 300 for a in answers)}, "
            f"answered 5xx {sum(a >= 500 for a in answers)}"
        )
    assert all(a in (200, 202, 204) for a in answers)
    assert len(store.rights.pending_rights_requests()) == sum(e["body"]["apiVersion"] == "dsr/v1" for e in PUBLISHED)
    assert kinds == {
        "SubscriptionTopicRequest",
        "SubscriptionControlRequest",
        "ConsentRequest",
        "DeleteRequest",
        "AccessRequest",
        "CorrectionRequest",
        "RestrictProcessingRequest",
    }
