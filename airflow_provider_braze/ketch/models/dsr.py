"""``dsr/v1``: data subject rights requests, the answers to them and the status events sent back.

Flow: Ketch POSTs a request (``DeleteRequest``, ``AccessRequest``, ``CorrectionRequest`` or
``RestrictProcessingRequest``); the receiver answers 200 with the kind's response (``DeleteResponse``...)
whose status is ``pending``; the work happens later and each change of status is POSTed as the kind's
status event (``DeleteStatusEvent``...) to every callback URL of the request, until one with status
``completed`` has been delivered. Ketch accepts nothing after that. :data:`RIGHTS_KINDS` names the
three messages of each kind.

An access result is a URL plus headers, or an inline document: ``data`` is base64 and ``headers``
carries ``Content-Type`` (``application/json`` or ``application/pdf``). Ketch caps an inline document
at 3.5 MB and the JSON documents of a request, merged across callbacks with RFC 7396, at 1 MB. The
limits are applied here in decimal megabytes to the decoded bytes, the stricter reading.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, ConfigDict, Field, field_validator, model_validator

from airflow_provider_braze.ketch.models.common import (
    DSR_API_VERSION,
    Envelope,
    Identity,
    KetchModel,
    Metadata,
    RegulatedRequestBody,
)

#: Largest decoded inline access result Ketch accepts.
MAX_INLINE_RESULT_BYTES = 3_500_000
#: Largest total of decoded inline JSON results Ketch accepts for one request.
MAX_JSON_RESULTS_BYTES = 1_000_000

RESULT_CONTENT_TYPES = ("application/json", "application/pdf")

DSRStatus = Literal["unknown", "pending", "in_progress", "completed"]
DSRReason = Literal[
    "unknown",
    "pending",
    "need_user_verification",
    "requested",
    "no_match",
    "insufficient_identification",
    "executed",
    "executed_direct_subject_delivery",
    "suspected_fraud",
    "too_many_requests",
    "other",
]


class Callback(KetchModel):
    """Where to POST status events for a request. The headers authenticate to Ketch: keep them secret.

    :param url: an ``http(s)`` URL chosen by Ketch.
    :param headers: headers to send with every status event.
    """

    url: str
    headers: dict[str, str] = Field(default_factory=dict, repr=False)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("callback url must be an absolute http(s) URL")
        return value


class Subject(KetchModel):
    """The person making the request, as entered in Ketch's form (address fields and others kept as sent)."""

    model_config = ConfigDict(extra="allow")

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    form_data: dict[str, Any] = {}


class DSRRequestBody(RegulatedRequestBody):
    """``request`` of every rights request.

    :param identities: who the request is about.
    :param callbacks: where to send status events.
    :param subject: the requester's details (personal data; kept out of ``repr``).
    :param submitted_timestamp: when the request was made, in unix seconds.
    :param due_timestamp: when the law requires it done, in unix seconds.
    """

    callbacks: list[Callback] = []
    subject: Subject | None = Field(default=None, repr=False)
    # ``claims`` is the name the specification used before 2023-02 (ketch-forwarder commit 00aac9e).
    context: dict[str, Any] = Field(default={}, validation_alias=AliasChoices("context", "claims"))
    submitted_timestamp: float | None = None
    due_timestamp: float | None = None


class _DSRRequest(KetchModel):
    api_version: Literal["dsr/v1"] = DSR_API_VERSION
    metadata: Metadata
    request: DSRRequestBody


class DeleteRequest(_DSRRequest):
    """Erase the subject's data (Braze ``/users/delete``)."""

    kind: Literal["DeleteRequest"] = "DeleteRequest"


class AccessRequest(_DSRRequest):
    """Return the subject's data (Braze ``/users/export/ids``)."""

    kind: Literal["AccessRequest"] = "AccessRequest"


class CorrectionRequest(_DSRRequest):
    """Correct the subject's data: the corrected details are the ``subject``'s (Braze ``/users/track``)."""

    kind: Literal["CorrectionRequest"] = "CorrectionRequest"


class RestrictProcessingRequestBody(DSRRequestBody):
    """``request`` of a :class:`RestrictProcessingRequest`: ``purposes`` lists the purposes to restrict."""

    purposes: list[str] = []


class RestrictProcessingRequest(_DSRRequest):
    """Restrict processing of the subject's data (an unsubscribe from all in Braze, ``/users/track``)."""

    kind: Literal["RestrictProcessingRequest"] = "RestrictProcessingRequest"
    request: RestrictProcessingRequestBody


def _decode_base64(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("data must be standard base64") from None


class AccessResult(KetchModel):
    """One access result: a ``url`` to fetch, or inline base64 ``data``, each with ``headers``."""

    url: str | None = None
    data: str | None = Field(default=None, repr=False)
    headers: dict[str, str] = Field(default_factory=dict, repr=False)

    @model_validator(mode="after")
    def _check(self) -> AccessResult:
        if (self.url is None) == (self.data is None):
            raise ValueError("an access result has exactly one of url or data")
        if self.data is not None:
            decoded = _decode_base64(self.data)
            if len(decoded) > MAX_INLINE_RESULT_BYTES:
                raise ValueError(f"inline result is {len(decoded)} bytes, above {MAX_INLINE_RESULT_BYTES}")
            if self.content_type not in RESULT_CONTENT_TYPES:
                raise ValueError(f"inline result Content-Type must be one of {', '.join(RESULT_CONTENT_TYPES)}")
            if self.content_type == "application/json":
                try:
                    json.loads(decoded)
                except ValueError:
                    raise ValueError("inline application/json result is not valid JSON") from None
        return self

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header without parameters, whatever its capitalisation."""
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                return value.split(";")[0].strip().lower()
        return None

    def decoded(self) -> bytes:
        """The inline document's bytes (empty for a URL result)."""
        return _decode_base64(self.data) if self.data is not None else b""

    @classmethod
    def inline_json(cls, document: Any) -> AccessResult:
        """Build an inline ``application/json`` result from a JSON-serialisable document."""
        raw = json.dumps(document, separators=(",", ":"), default=str).encode()
        return cls(data=base64.b64encode(raw).decode("ascii"), headers={"Content-Type": "application/json"})


class DSRStatusBody(KetchModel):
    """Status of a rights request: the ``response`` of an answer or the ``event`` of a status event.

    :param status: ``unknown``, ``pending``, ``in_progress`` or ``completed``.
    :param reason: why (``requested``, ``executed``, ``no_match``...).
    :param result_message: free text shown to the operator in Ketch.
    :param expected_completion_timestamp: unix seconds.
    :param request_id: our id for the request (the receiver uses the request's ``metadata.uid``).
    """

    status: DSRStatus
    reason: DSRReason | None = None
    result_message: str | None = None
    expected_completion_timestamp: int | None = None
    request_id: str | None = Field(default=None, alias="requestID")
    identities: list[Identity] | None = None
    subject: Subject | None = Field(default=None, repr=False)
    context: dict[str, Any] | None = None
    outcome: Any = None


class AccessStatusBody(DSRStatusBody):
    """Status of an access request, with the ``results`` once they exist."""

    results: list[AccessResult] | None = None

    @model_validator(mode="after")
    def _json_total(self) -> AccessStatusBody:
        total = sum(len(r.decoded()) for r in self.results or () if r.content_type == "application/json")
        if total > MAX_JSON_RESULTS_BYTES:
            raise ValueError(f"inline JSON results total {total} bytes, above {MAX_JSON_RESULTS_BYTES}")
        return self


class _DSRResponse(Envelope):
    """The 200 answer to a rights request; each kind's answer fixes ``kind``."""

    api_version: Literal["dsr/v1"] = DSR_API_VERSION
    response: DSRStatusBody


class _DSRStatusEvent(Envelope):
    """A status event of a rights request; each kind's event fixes ``kind``."""

    api_version: Literal["dsr/v1"] = DSR_API_VERSION
    event: DSRStatusBody


class DeleteResponse(_DSRResponse):
    """The 200 answer to a :class:`DeleteRequest`."""

    kind: Literal["DeleteResponse"] = "DeleteResponse"


class CorrectionResponse(_DSRResponse):
    """The 200 answer to a :class:`CorrectionRequest`."""

    kind: Literal["CorrectionResponse"] = "CorrectionResponse"


class RestrictProcessingResponse(_DSRResponse):
    """The 200 answer to a :class:`RestrictProcessingRequest`."""

    kind: Literal["RestrictProcessingResponse"] = "RestrictProcessingResponse"


class AccessResponse(_DSRResponse):
    """The 200 answer to an :class:`AccessRequest`."""

    kind: Literal["AccessResponse"] = "AccessResponse"
    response: AccessStatusBody


class DeleteStatusEvent(_DSRStatusEvent):
    """POSTed to each callback of a :class:`DeleteRequest` when its status changes.

    Send it with the request's ``metadata`` so that Ketch can match it to the request.
    """

    kind: Literal["DeleteStatusEvent"] = "DeleteStatusEvent"


class CorrectionStatusEvent(_DSRStatusEvent):
    """POSTed to each callback of a :class:`CorrectionRequest` when its status changes."""

    kind: Literal["CorrectionStatusEvent"] = "CorrectionStatusEvent"


class RestrictProcessingStatusEvent(_DSRStatusEvent):
    """POSTed to each callback of a :class:`RestrictProcessingRequest` when its status changes."""

    kind: Literal["RestrictProcessingStatusEvent"] = "RestrictProcessingStatusEvent"


class AccessStatusEvent(_DSRStatusEvent):
    """POSTed to each callback of an :class:`AccessRequest` when its status changes (with ``results`` at the end)."""

    kind: Literal["AccessStatusEvent"] = "AccessStatusEvent"
    event: AccessStatusBody


#: The 200 answer to any rights request.
DSRResponse = DeleteResponse | AccessResponse | CorrectionResponse | RestrictProcessingResponse
#: The status event of any rights request.
DSRStatusEvent = DeleteStatusEvent | AccessStatusEvent | CorrectionStatusEvent | RestrictProcessingStatusEvent


@dataclass(frozen=True)
class RightsKind:
    """The messages of one rights request kind: its request, the answer to it and its status event.

    :param body: the status body model (``AccessStatusBody`` carries results).
    """

    request: type[_DSRRequest]
    response: type[DSRResponse]
    status_event: type[DSRStatusEvent]
    body: type[DSRStatusBody]


#: Every rights request kind of ``dsr/v1``, by request kind.
RIGHTS_KINDS: dict[str, RightsKind] = {
    "DeleteRequest": RightsKind(DeleteRequest, DeleteResponse, DeleteStatusEvent, DSRStatusBody),
    "AccessRequest": RightsKind(AccessRequest, AccessResponse, AccessStatusEvent, AccessStatusBody),
    "CorrectionRequest": RightsKind(CorrectionRequest, CorrectionResponse, CorrectionStatusEvent, DSRStatusBody),
    "RestrictProcessingRequest": RightsKind(
        RestrictProcessingRequest, RestrictProcessingResponse, RestrictProcessingStatusEvent, DSRStatusBody
    ),
}
