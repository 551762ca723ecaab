"""Webhook bodies as Ketch's forwarder sends them, built from the provider's protocol models.

Every builder constructs the model (``SubscriptionTopicRequest``, ``DeleteRequest``...) and returns its
wire form, so a body is valid by construction; each carries a fresh UUIDv4 ``metadata.uid`` unless
one is given (a redelivery reuses its uid). Source: Ketch's forwarder specification,
https://github.com/ketch-com/ketch-forwarder, and https://developers.ketch.com/docs/webhook-protocols.

The older topic shape (2023-03-16 to 2023-04-13, ``{"contactMethods": [...], "status": "allowed"}``)
is produced from the current one by :func:`legacy_topics` and checked by parsing it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from airflow_provider_braze.ketch.models import (
    RIGHTS_KINDS,
    Callback,
    ConsentRequest,
    ConsentRequestBody,
    ControlStatus,
    DSRRequestBody,
    Identity,
    Metadata,
    Subject,
    SubscriptionControlRequest,
    SubscriptionControlRequestBody,
    SubscriptionTopicRequest,
    SubscriptionTopicRequestBody,
    TopicStatus,
    parse_request,
)

#: Days between a rights request and its legal due date when none is given (GDPR: one month).
DEFAULT_DUE_DAYS = 30


@dataclass(frozen=True)
class Origin:
    """Where in Ketch a webhook comes from.

    :param tenant: the Ketch organization code (``metadata.tenant``).
    :param property_code: the property (site or app) where the user acted.
    :param environment: the property's environment.
    :param controller: the data controller; sent only when it differs from the tenant, as Ketch does.
    """

    tenant: str
    property_code: str = "website"
    environment: str = "production"
    controller: str | None = None

    def request_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"property": self.property_code, "environment": self.environment}
        if self.controller and self.controller != self.tenant:
            fields["controller"] = self.controller
        return fields


def new_uid() -> str:
    """A fresh ``metadata.uid``: a UUIDv4, as Ketch sends."""
    return str(uuid.uuid4())


def _metadata(origin: Origin, uid: str | None) -> Metadata:
    return Metadata(uid=uid or new_uid(), tenant=origin.tenant)


_TIMESTAMP_FIELDS = ("submittedTimestamp", "dueTimestamp", "collectedAt")


def _wire(message: Any) -> dict[str, Any]:
    """The model's wire form, with whole-second timestamps as integers (as Ketch sends them)."""
    body = message.to_dict()
    request = body["request"]
    for name in _TIMESTAMP_FIELDS:
        value = request.get(name)
        if isinstance(value, float) and value.is_integer():
            request[name] = int(value)
    return body


def legacy_topics(topics: Mapping[str, Mapping[str, TopicStatus]]) -> dict[str, Any]:
    """The older topic shape: one status per topic for a list of contact methods, ``allowed`` for granted.

    :raises ValueError: a topic has different statuses on different channels (the old shape cannot say so).
    """
    legacy: dict[str, Any] = {}
    for topic, channels in topics.items():
        statuses = {decision.status for decision in channels.values()}
        if len(statuses) != 1:
            raise ValueError(f"topic {topic!r} mixes statuses across channels; the older shape cannot express it")
        status = statuses.pop()
        legacy[topic] = {"contactMethods": list(channels), "status": "allowed" if status == "granted" else "denied"}
    return legacy


def topic_request(
    origin: Origin,
    identities: Sequence[Identity],
    topics: Mapping[str, Mapping[str, str]],
    *,
    submitted_at: float,
    uid: str | None = None,
    legacy_shape: bool = False,
) -> dict[str, Any]:
    """A ``SubscriptionTopicRequest``.

    :param topics: ``{topic: {channel: "granted" | "denied"}}``.
    :param submitted_at: when the user acted, unix seconds (``submittedTimestamp``).
    :param legacy_shape: send the pre-2023-04-13 topic shape.
    """
    message = SubscriptionTopicRequest(
        metadata=_metadata(origin, uid),
        request=SubscriptionTopicRequestBody(
            **origin.request_fields(),
            identities=list(identities),
            topics={t: {c: TopicStatus(status=s) for c, s in chans.items()} for t, chans in topics.items()},
            submitted_timestamp=submitted_at,
        ),
    )
    body = _wire(message)
    if legacy_shape:
        body["request"]["topics"] = legacy_topics(message.request.topics)
        # The body is a SubscriptionTopicRequest's, which the union parse_request returns cannot say.
        if parse_request(body).request.topics != message.request.topics:  # type: ignore[union-attr]
            raise AssertionError("the older topic shape does not read back as the same topics")
    return body


def control_request(
    origin: Origin,
    identities: Sequence[Identity],
    controls: Mapping[str, str | tuple[str, str | None]],
    *,
    submitted_at: float,
    uid: str | None = None,
) -> dict[str, Any]:
    """A ``SubscriptionControlRequest``, e.g. ``controls={"global_unsubscribe": "denied"}``.

    :param controls: ``{control: status}`` or ``{control: (status, impact)}``, ``impact`` being Ketch's
        ``impactType`` hint.
    """
    decisions = {}
    for code, value in controls.items():
        status, impact = (value, None) if isinstance(value, str) else value
        decisions[code] = ControlStatus(status=status, impact=impact)
    message = SubscriptionControlRequest(
        metadata=_metadata(origin, uid),
        request=SubscriptionControlRequestBody(
            **origin.request_fields(),
            identities=list(identities),
            controls=decisions,
            submitted_timestamp=submitted_at,
        ),
    )
    return _wire(message)


def consent_request(
    origin: Origin,
    identities: Sequence[Identity],
    purposes: Mapping[str, str],
    *,
    collected_at: float,
    legal_basis: Mapping[str, str] | None = None,
    regulation: str | None = None,
    jurisdiction: str | None = None,
    vendors: Sequence[Any] = (),
    context: Mapping[str, Any] | None = None,
    uid: str | None = None,
) -> dict[str, Any]:
    """A ``ConsentRequest``: ``purposes={"analytics": "granted"}``, ``legal_basis={"analytics": "consent_optin"}``."""
    message = ConsentRequest(
        metadata=_metadata(origin, uid),
        request=ConsentRequestBody(
            **origin.request_fields(),
            regulation=regulation,
            jurisdiction=jurisdiction,
            identities=list(identities),
            purposes=dict(purposes),
            legal_basis=dict(legal_basis or {}),
            vendors=list(vendors),
            context=dict(context or {}),
            collected_at=collected_at,
        ),
    )
    return _wire(message)


def rights_request(
    kind: str,
    origin: Origin,
    identities: Sequence[Identity],
    callbacks: Sequence[Callback],
    *,
    submitted_at: float,
    subject: Subject | Mapping[str, Any] | None = None,
    regulation: str | None = "gdpr",
    jurisdiction: str | None = "eu",
    due_at: float | None = None,
    context: Mapping[str, Any] | None = None,
    purposes: Sequence[str] = (),
    uid: str | None = None,
) -> dict[str, Any]:
    """A rights request of ``kind`` (``DeleteRequest``, ``AccessRequest``, ``CorrectionRequest`` or
    ``RestrictProcessingRequest``) with its callbacks.

    :param subject: the requester (``{"email", "firstName", "lastName", ...}``).
    :param due_at: legal deadline, unix seconds; :data:`DEFAULT_DUE_DAYS` after ``submitted_at`` by default.
    :param purposes: the purposes a ``RestrictProcessingRequest`` restricts.
    """
    if kind not in RIGHTS_KINDS:
        raise ValueError(f"unknown rights request kind {kind!r}; expected one of {', '.join(RIGHTS_KINDS)}")
    model = RIGHTS_KINDS[kind].request
    # Every rights request model declares its request body class (a DSRRequestBody) as the annotation.
    body_model = cast("type[DSRRequestBody]", model.model_fields["request"].annotation)
    extra = {"purposes": list(purposes)} if kind == "RestrictProcessingRequest" else {}
    message = model(
        metadata=_metadata(origin, uid),
        request=body_model(
            **extra,
            **origin.request_fields(),
            regulation=regulation,
            jurisdiction=jurisdiction,
            identities=list(identities),
            callbacks=list(callbacks),
            subject=subject if subject is None or isinstance(subject, Subject) else Subject.model_validate(subject),
            context=dict(context or {}),
            submitted_timestamp=submitted_at,
            due_timestamp=due_at if due_at is not None else submitted_at + DEFAULT_DUE_DAYS * 86_400,
        ),
    )
    return _wire(message)


def masked(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a body with the callback headers (Ketch's callback credentials) masked, for inspection."""
    copy = dict(body)
    request = body.get("request")
    if isinstance(request, Mapping) and request.get("callbacks"):
        copy["request"] = {
            **request,
            "callbacks": [
                {**cb, "headers": dict.fromkeys(cb.get("headers", {}), "***")} for cb in request["callbacks"]
            ],
        }
    return copy
