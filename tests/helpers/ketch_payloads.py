"""Builders of Ketch forwarder bodies, shaped like the examples in the forwarder spec."""

from __future__ import annotations

import uuid
from typing import Any

TENANT = "axonic"
EMAIL = "ada@example.com"


def _uid(uid: str | None) -> str:
    return uid or str(uuid.uuid4())


def identities(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    pairs = pairs or (("email", EMAIL), ("account_id", "123"))
    return [{"identitySpace": s, "identityFormat": "raw", "identityValue": v} for s, v in pairs]


def _envelope(api_version: str, kind: str, uid: str | None, request: dict[str, Any]) -> dict[str, Any]:
    metadata = {"uid": _uid(uid), "tenant": TENANT}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "request": request}


def topic_request(
    uid: str | None = None, topics: dict | None = None, submitted: float = 1_700_000_000, **extra
) -> dict:
    topics = topics or {
        "competitions": {"email": {"status": "granted"}, "sms": {"status": "denied"}},
        "marketing": {"email": {"status": "denied"}, "sms": {"status": "denied"}},
    }
    request = {
        "controller": TENANT,
        "property": "axonic.io",
        "environment": "production",
        "identities": identities(),
        "topics": topics,
        "submittedTimestamp": submitted,
        **extra,
    }
    return _envelope("subscription/v1", "SubscriptionTopicRequest", uid, request)


def legacy_topic_request(uid: str | None = None, submitted: float = 1_700_000_000) -> dict:
    return topic_request(
        uid,
        topics={
            "newsletter": {"contactMethods": ["email", "sms"], "status": "allowed"},
            "offers": {"contactMethods": ["email"], "status": "denied"},
        },
        submitted=submitted,
    )


def control_request(uid: str | None = None, status: str = "denied", submitted: float = 1_700_000_000) -> dict:
    request = {
        "property": "axonic.io",
        "environment": "production",
        "identities": identities(),
        "controls": {"global_unsubscribe": {"status": status}},
        "submittedTimestamp": submitted,
    }
    return _envelope("subscription/v1", "SubscriptionControlRequest", uid, request)


def consent_request(uid: str | None = None) -> dict:
    request = {
        "property": "axonic.io",
        "environment": "production",
        "regulation": "gdpr",
        "jurisdiction": "eu",
        "identities": identities(),
        "purposes": {"analytics": "granted", "advertising": "denied"},
        "legalBasis": {"analytics": "consent_optin", "advertising": "consent_optin"},
        "vendors": ["1", "2"],
        "context": {"source": "banner"},
        "collectedAt": 1_700_000_100,
    }
    return _envelope("consent/v1", "ConsentRequest", uid, request)


def rights_request(kind: str, uid: str | None = None, callback_url: str = "https://ketch.example/callback") -> dict:
    request = {
        "controller": TENANT,
        "property": "axonic.io",
        "environment": "production",
        "regulation": "gdpr",
        "jurisdiction": "eu",
        "identities": identities(),
        "callbacks": [{"url": callback_url, "headers": {"Authorization": "Bearer callback-secret"}}],
        "subject": {
            "email": EMAIL,
            "firstName": "Ada",
            "lastName": "Lovelace",
            "addressLine1": "1 Road",
            "formData": {},
        },
        "context": {},
        "submittedTimestamp": 1_700_000_200,
        "dueTimestamp": 1_702_592_200,
    }
    return _envelope("dsr/v1", kind, uid, request)


def delete_request(uid: str | None = None, **kwargs) -> dict:
    return rights_request("DeleteRequest", uid, **kwargs)


def access_request(uid: str | None = None, **kwargs) -> dict:
    return rights_request("AccessRequest", uid, **kwargs)
