"""Ketch's side of a rights request's callbacks: accept and record its status events (``DeleteStatusEvent``...).

Each rights request the sandbox sends names one callback, ``<sandbox>/callbacks/<request_id>`` (the
request's ``metadata.uid``), with ``Authorization: Bearer <callback token>``. A status event POSTed
there is checked in this order:

1. the bearer token, in constant time: 401 ``forbidden``;
2. the request id is one the sandbox sent: 404 ``not_found``;
3. the request already received a ``completed`` event: 409 ``conflict`` (Ketch accepts nothing
   after ``completed``);
4. the body is a valid status event of the request's kind (``DeleteStatusEvent`` for a
   ``DeleteRequest``...) whose ``metadata.uid`` is the request's: 400 ``invalid``;
5. the inline JSON results of the request, merged across its events with RFC 7396 merge-patch,
   stay within 1 MB: 400 ``invalid``.

An accepted event is recorded in arrival order and answered 200 with ``{requestID, status, events}``.
Refusals are counted (without their bodies or headers) for inspection.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from airflow_provider_braze.ketch.models import (
    MAX_JSON_RESULTS_BYTES,
    RIGHTS_KINDS,
    AccessResult,
    Identity,
    KetchValidationError,
    parse_message,
)
from airflow_provider_braze.ketch.models.dsr import DSRStatusEvent

#: Status event kind expected for each rights request kind.
EVENT_KIND = {kind: messages.status_event.__name__ for kind, messages in RIGHTS_KINDS.items()}


class CallbackRefused(Exception):
    """A status event was refused: ``code`` is the HTTP status, ``status`` Ketch's error status."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


@dataclass(frozen=True)
class SentRightsRequest:
    """A rights request the sandbox sent, awaiting status events."""

    request_id: str
    kind: str
    identities: tuple[Identity, ...] = field(repr=False)
    sent_at: float


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge-patch of ``patch`` onto ``target`` (neither is modified)."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged


def decode_result(result: AccessResult) -> Any:
    """An access result as data: the parsed JSON document, the bytes of a PDF, or ``{"url", "headers"}``."""
    if result.data is None:
        return {"url": result.url, "headers": dict(result.headers)}
    raw = result.decoded()
    return json.loads(raw) if result.content_type == "application/json" else raw


@dataclass(frozen=True)
class RecordedCallback:
    """One accepted status event.

    :param event: the parsed status event (``DeleteStatusEvent``, ``AccessStatusEvent``...).
    """

    request_id: str
    received_at: float
    event: Any = field(repr=False)

    @property
    def kind(self) -> str:
        return self.event.kind

    @property
    def status(self) -> str:
        return self.event.event.status

    @property
    def reason(self) -> str | None:
        return self.event.event.reason

    @property
    def results(self) -> list[AccessResult]:
        """Access results carried by this event (none for a delete)."""
        return list(getattr(self.event.event, "results", None) or [])

    def decoded_results(self) -> list[Any]:
        """Every result decoded with :func:`decode_result`."""
        return [decode_result(r) for r in self.results]

    def to_dict(self) -> dict[str, Any]:
        results = []
        for result in self.results:
            decoded = decode_result(result)
            results.append(
                {"content_type": result.content_type, "size": len(result.decoded()), "document": decoded}
                if not isinstance(decoded, bytes)
                else {"content_type": result.content_type, "size": len(decoded)}
            )
        body = self.event.event
        return {
            "request_id": self.request_id,
            "kind": self.kind,
            "received_at": self.received_at,
            "status": self.status,
            "reason": self.reason,
            "result_message": body.result_message,
            "results": results,
        }


def _json_documents(events: Sequence[RecordedCallback]) -> list[Any]:
    return [
        decode_result(r)
        for e in events
        for r in e.results
        if r.data is not None and r.content_type == "application/json"
    ]


class CallbackRecorder:
    """Checks and records status events for the rights requests the sandbox sent.

    :param token: the bearer token every status event must carry.
    """

    def __init__(self, token: str) -> None:
        if not token or not token.strip():
            raise ValueError("a callback token is required")
        self._token = token.strip().encode("utf-8")
        self._lock = threading.Lock()
        self._requests: dict[str, SentRightsRequest] = {}
        self._events: dict[str, list[RecordedCallback]] = {}
        self._refused: list[dict[str, Any]] = []

    def authorization(self) -> dict[str, str]:
        """The headers a callback carries (a secret: goes only into rights request bodies)."""
        return {"Authorization": f"Bearer {self._token.decode('utf-8')}"}

    def register(self, request_id: str, kind: str, identities: Sequence[Identity]) -> None:
        """Expect status events for a rights request about to be sent."""
        if kind not in EVENT_KIND:
            raise ValueError(f"unknown rights request kind {kind!r}")
        with self._lock:
            self._requests[request_id] = SentRightsRequest(request_id, kind, tuple(identities), time.time())
            self._events.setdefault(request_id, [])

    def _authorised(self, header: str | None) -> bool:
        scheme, _, credentials = (header or "").strip().partition(" ")
        ok = hmac.compare_digest(credentials.strip().encode("utf-8"), self._token)
        return ok and scheme.lower() == "bearer"

    def receive(self, request_id: str, authorization: str | None, raw: bytes) -> RecordedCallback:
        """Check and record one status event (see the module doc for the order of checks).

        :raises CallbackRefused: with the HTTP status and Ketch error status to answer.
        """
        try:
            return self._receive(request_id, authorization, raw)
        except CallbackRefused as refused:
            with self._lock:
                self._refused.append(
                    {
                        "request_id": request_id,
                        "code": refused.code,
                        "reason": refused.message,
                        "received_at": time.time(),
                    }
                )
            raise

    def _receive(self, request_id: str, authorization: str | None, raw: bytes) -> RecordedCallback:
        if not self._authorised(authorization):
            raise CallbackRefused(401, "forbidden", "missing or invalid bearer token")
        with self._lock:
            sent = self._requests.get(request_id)
            completed = any(e.status == "completed" for e in self._events.get(request_id, ()))
        if sent is None:
            raise CallbackRefused(404, "not_found", "no rights request with this id was sent")
        if completed:
            raise CallbackRefused(409, "conflict", "the request is completed; no further events are accepted")
        try:
            message = parse_message(raw)
        except KetchValidationError as exc:
            raise CallbackRefused(400, "invalid", str(exc)) from None
        expected = EVENT_KIND[sent.kind]
        if message.kind != expected:
            raise CallbackRefused(400, "invalid", f"a {sent.kind} takes {expected}, not {message.kind}")
        # Its kind is the status event's, so the model is that status event.
        event = cast(DSRStatusEvent, message)
        if event.metadata.uid != request_id:
            raise CallbackRefused(400, "invalid", "metadata.uid must be the request's metadata.uid")
        record = RecordedCallback(request_id, time.time(), event)
        with self._lock:
            events = self._events[request_id]
            if any(e.status == "completed" for e in events):  # a completed event raced this one
                raise CallbackRefused(409, "conflict", "the request is completed; no further events are accepted")
            merged = self._merged([*events, record])
            size = len(json.dumps(merged, separators=(",", ":")).encode("utf-8")) if merged is not None else 0
            if size > MAX_JSON_RESULTS_BYTES:
                reason = f"merged JSON results are {size} bytes, above {MAX_JSON_RESULTS_BYTES}"
                raise CallbackRefused(400, "invalid", reason)
            events.append(record)
        return record

    @staticmethod
    def _merged(events: Sequence[RecordedCallback]) -> Any:
        documents = _json_documents(events)
        if not documents:
            return None
        merged: Any = {}
        for document in documents:
            merged = merge_patch(merged, document)
        return merged

    def events(self, request_id: str) -> list[RecordedCallback]:
        """Accepted status events of one request, in arrival order (empty when none or unknown)."""
        with self._lock:
            return list(self._events.get(request_id, ()))

    def access_document(self, request_id: str) -> Any:
        """The request's inline JSON results merged with RFC 7396, as Ketch does; ``None`` when there are none."""
        return self._merged(self.events(request_id))

    def is_completed(self, request_id: str) -> bool:
        return any(e.status == "completed" for e in self.events(request_id))

    def sent_requests(self) -> list[SentRightsRequest]:
        with self._lock:
            return list(self._requests.values())

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: every sent rights request with its events, and the refusals."""
        with self._lock:
            requests = list(self._requests.values())
            events = {rid: list(evs) for rid, evs in self._events.items()}
            refused = list(self._refused)
        return {
            "rights_requests": [
                {
                    "request_id": r.request_id,
                    "kind": r.kind,
                    "sent_at": r.sent_at,
                    "completed": any(e.status == "completed" for e in events.get(r.request_id, ())),
                    "events": [e.to_dict() for e in events.get(r.request_id, ())],
                    "access_document": self._merged(events.get(r.request_id, ())),
                }
                for r in requests
            ],
            "refused_callbacks": refused,
        }

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._events.clear()
            self._refused.clear()
