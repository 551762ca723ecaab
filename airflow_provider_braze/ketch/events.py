"""The one normalised form every accepted Ketch request is stored in.

Whatever its kind or topic shape, a request becomes a :class:`KetchEvent`: who (identities), when
(``submitted_at``, from ``submittedTimestamp`` or ``collectedAt``), and what, as flat tuples:

- ``SubscriptionTopicRequest``  -> ``subscription_changes``: ``(topic, channel, status)``
- ``SubscriptionControlRequest`` -> ``control_changes``: ``(control, status)``
- ``ConsentRequest``            -> ``consent_changes``: ``(purpose, status, legal_basis)``
- the four rights requests (``DeleteRequest``...) -> ``rights_request``: id, kind, callbacks, subject, due date

``status`` is always ``granted`` or ``denied`` (``allowed`` was upgraded by the models). The original
JSON text rides along in ``payload`` so nothing Ketch sent is lost. Nothing here does I/O.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_braze.ketch.models import (
    AccessRequest,
    Callback,
    ConsentRequest,
    CorrectionRequest,
    DeleteRequest,
    Identity,
    KetchRequest,
    RestrictProcessingRequest,
    SubscriptionControlRequest,
    SubscriptionTopicRequest,
)

#: Kinds whose changes a sync to Braze consumes; their events carry a sync state in the store.
SYNCABLE_KINDS = ("SubscriptionTopicRequest", "SubscriptionControlRequest")

# A unix time in seconds reaches 1e11 only in the year 5138, so anything larger is in milliseconds.
_MILLISECONDS_THRESHOLD = 1e11


def epoch_seconds(value: float | None) -> float | None:
    """Read a Ketch timestamp as unix seconds, converting one sent in milliseconds."""
    if value is None:
        return None
    value = float(value)
    return value / 1000.0 if abs(value) >= _MILLISECONDS_THRESHOLD else value


@dataclass(frozen=True)
class SubscriptionChange:
    """A topic decision on one channel (Ketch's "contact method", e.g. ``email``, ``sms``)."""

    topic: str
    channel: str
    status: str


@dataclass(frozen=True)
class ControlChange:
    """A global control decision, e.g. ``global_unsubscribe`` ``denied``."""

    control: str
    status: str


@dataclass(frozen=True)
class ConsentChange:
    """A consent decision for one purpose, with its legal basis when Ketch sent one."""

    purpose: str
    status: str
    legal_basis: str | None = None


@dataclass(frozen=True)
class RightsRequestDetails:
    """What a rights request needs to be carried out and reported on.

    :param request_id: our id for it: the request's ``metadata.uid``.
    :param kind: ``DeleteRequest``, ``AccessRequest``, ``CorrectionRequest`` or ``RestrictProcessingRequest``.
    :param callbacks: where status events go (their headers are secrets).
    :param subject: the requester's details as sent (personal data).
    :param due_at: the legal deadline, unix seconds.
    """

    request_id: str
    kind: str
    callbacks: tuple[Callback, ...] = field(default=(), repr=False)
    subject: dict[str, Any] | None = field(default=None, repr=False)
    regulation: str | None = None
    jurisdiction: str | None = None
    due_at: float | None = None


@dataclass(frozen=True)
class KetchEvent:
    """One accepted Ketch request, normalised.

    :param uid: ``metadata.uid``, the idempotency key.
    :param event_id: the store's sequence number; ``None`` until stored.
    :param controller: the data controller (Ketch sends it only when it differs from the tenant; it
        defaults to the tenant here).
    :param property_code: the Ketch property (site or app) where the user acted.
    :param received_at: when the receiver got it, unix seconds.
    :param submitted_at: when the user acted (``submittedTimestamp``/``collectedAt``), unix seconds;
        ``received_at`` when Ketch sent neither.
    :param payload: the original JSON text.
    """

    uid: str
    api_version: str
    kind: str
    tenant: str | None
    received_at: float
    submitted_at: float
    identities: tuple[Identity, ...]
    controller: str | None = None
    property_code: str | None = None
    environment: str | None = None
    subscription_changes: tuple[SubscriptionChange, ...] = ()
    control_changes: tuple[ControlChange, ...] = ()
    consent_changes: tuple[ConsentChange, ...] = ()
    rights_request: RightsRequestDetails | None = None
    payload: str | None = field(default=None, repr=False)
    event_id: int | None = None

    @property
    def stored_id(self) -> int:
        """:attr:`event_id` of an event read back from the store, where it is always set."""
        if self.event_id is None:
            raise ValueError(f"Ketch event {self.uid} has not been stored: it has no event_id")
        return self.event_id

    @property
    def is_syncable(self) -> bool:
        """Whether a sync to Braze consumes this event (subscription topic or control changes)."""
        return self.kind in SYNCABLE_KINDS


def _payload_text(message: KetchRequest, payload: str | bytes | None) -> str:
    if isinstance(payload, bytes):
        # UTF-16/32 JSON is legal but rare: keep the parsed form instead of such bytes.
        with contextlib.suppress(UnicodeDecodeError):
            return payload.decode("utf-8")
    elif isinstance(payload, str):
        return payload
    return json.dumps(message.to_dict(), separators=(",", ":"))


def normalise(
    message: KetchRequest, *, payload: str | bytes | None = None, received_at: float | None = None
) -> KetchEvent:
    """Turn a parsed request into its :class:`KetchEvent`.

    :param message: a model returned by :func:`~airflow_provider_braze.ketch.models.parse_request`.
    :param payload: the body as received; the model's JSON form is kept when omitted.
    :param received_at: unix seconds; now when omitted.
    """
    received = time.time() if received_at is None else received_at
    body = message.request
    submitted = epoch_seconds(getattr(body, "submitted_timestamp", None) or getattr(body, "collected_at", None))
    base: dict[str, Any] = {
        "uid": message.metadata.uid,
        "api_version": message.api_version,
        "kind": message.kind,
        "tenant": message.metadata.tenant,
        "received_at": received,
        "submitted_at": received if submitted is None else submitted,
        "identities": tuple(i for i in body.identities if i.identity_value.strip()),
        "controller": body.controller or message.metadata.tenant,
        "property_code": body.property,
        "environment": body.environment,
        "payload": _payload_text(message, payload),
    }
    if isinstance(message, SubscriptionTopicRequest):
        base["subscription_changes"] = tuple(
            SubscriptionChange(topic, channel, decision.status)
            for topic, channels in message.request.topics.items()
            for channel, decision in channels.items()
        )
    elif isinstance(message, SubscriptionControlRequest):
        base["control_changes"] = tuple(
            ControlChange(control, decision.status) for control, decision in message.request.controls.items()
        )
    elif isinstance(message, ConsentRequest):
        legal = message.request.legal_basis
        base["consent_changes"] = tuple(
            ConsentChange(purpose, status, legal.get(purpose)) for purpose, status in message.request.purposes.items()
        )
    elif isinstance(message, (DeleteRequest, AccessRequest, CorrectionRequest, RestrictProcessingRequest)):
        request = message.request
        base["rights_request"] = RightsRequestDetails(
            request_id=message.metadata.uid,
            kind=message.kind,
            callbacks=tuple(request.callbacks),
            subject=request.subject.to_dict() if request.subject else None,
            regulation=request.regulation,
            jurisdiction=request.jurisdiction,
            due_at=epoch_seconds(request.due_timestamp),
        )
    return KetchEvent(**base)
