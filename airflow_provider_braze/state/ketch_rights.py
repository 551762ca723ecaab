"""Rights-request state: progress of each Ketch DSR and whether Ketch has been told.

A row is created, ``pending`` / ``requested``, by
:meth:`~airflow_provider_braze.state.ketch_events.KetchEventStore.record_event` in the same
transaction as its event; the event store reaches this repository as its ``rights`` attribute. A DSR
step then lists :meth:`~KetchRightsRequests.pending_rights_requests`, does the work in Braze, calls
:meth:`~KetchRightsRequests.update_rights_request`, POSTs a status event to every callback and calls
:meth:`~KetchRightsRequests.mark_rights_request_notified`. A request leaves the pending list once it
is ``completed`` and Ketch has been sent ``completed``; after ``completed`` its status cannot change
(Ketch accepts nothing more).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Row, select, update

from airflow_provider_braze.ketch.events import KetchEvent, RightsRequestDetails
from airflow_provider_braze.ketch.models import (
    RIGHTS_KINDS,
    AccessResult,
    AccessStatusBody,
    Callback,
    DSRStatusBody,
    Identity,
)
from airflow_provider_braze.state.base import StateStore
from airflow_provider_braze.state.engine import read_transaction, write_transaction
from airflow_provider_braze.state.schema import ketch_rights_requests

#: Rights request kinds listed by default by :meth:`KetchRightsRequests.pending_rights_requests`: all four.
ACTIONABLE_RIGHTS_KINDS = tuple(RIGHTS_KINDS)


class RightsRequestNotFound(KeyError):
    """No rights request has this id."""


class RightsRequestClosed(ValueError):
    """The rights request is ``completed``; Ketch accepts no further change."""


@dataclass(frozen=True)
class RightsRequest:
    """A stored rights request and its progress.

    :param request_id: the request's ``metadata.uid``.
    :param status: ``unknown``, ``pending``, ``in_progress`` or ``completed``.
    :param callbacks: where status events go; their headers are secrets.
    :param notified_status: the last status delivered to Ketch's callbacks, ``None`` before the first.
    :param results: access results (wire form) to send with the final status event.
    """

    request_id: str
    event_id: int
    kind: str
    tenant: str | None
    identities: tuple[Identity, ...]
    callbacks: tuple[Callback, ...] = field(repr=False)
    subject: dict[str, Any] | None = field(repr=False)
    regulation: str | None
    jurisdiction: str | None
    submitted_at: float
    due_at: float | None
    status: str
    reason: str | None
    result_message: str | None
    expected_completion_at: float | None
    results: tuple[dict[str, Any], ...] | None = field(repr=False)
    notified_status: str | None
    notified_at: float | None
    created_at: float
    updated_at: float
    completed_at: float | None

    @property
    def is_completed(self) -> bool:
        return self.status == "completed"

    @property
    def needs_notification(self) -> bool:
        """Whether Ketch has not yet been sent the current status."""
        return self.notified_status != self.status

    @property
    def details(self) -> RightsRequestDetails:
        """What its event carried (:attr:`KetchEvent.rights_request`): the fields of the same names."""
        return RightsRequestDetails(**{f.name: getattr(self, f.name) for f in fields(RightsRequestDetails)})

    @classmethod
    def from_row(cls, row: Row) -> RightsRequest:
        data = dict(row._mapping)
        data["identities"] = tuple(Identity.model_validate(i) for i in data["identities"])
        data["callbacks"] = tuple(Callback.model_validate(c) for c in data["callbacks"])
        data["results"] = None if data["results"] is None else tuple(data["results"])
        return cls(**data)


def new_rights_row(event: KetchEvent, event_id: int, now: float) -> dict[str, Any]:
    """The ``ketch_rights_requests`` row for a freshly stored rights request event."""
    details = event.rights_request
    if details is None:
        raise ValueError(f"event {event.uid} is not a rights request")
    return {
        "request_id": details.request_id,
        "event_id": event_id,
        "kind": details.kind,
        "tenant": event.tenant,
        "identities": [i.to_dict() for i in event.identities],
        "callbacks": [c.to_dict() for c in details.callbacks],
        "subject": details.subject,
        "regulation": details.regulation,
        "jurisdiction": details.jurisdiction,
        "submitted_at": event.submitted_at,
        "due_at": details.due_at,
        "status": "pending",
        "reason": "requested",
        "created_at": now,
        "updated_at": now,
    }


class KetchRightsRequests(StateStore):
    """Read and move on rights requests (the ``rights`` of :class:`~.ketch_events.KetchEventStore`).

    :param engine: an engine, or a SQLAlchemy URL.
    :param clock: returns unix seconds; replaced in tests.
    """

    def get_rights_request(self, request_id: str) -> RightsRequest | None:
        """The rights request with this id, or ``None``."""
        self.ensure_schema()
        with read_transaction(self._engine) as conn:
            row = conn.execute(
                select(ketch_rights_requests).where(ketch_rights_requests.c.request_id == request_id)
            ).first()
        return None if row is None else RightsRequest.from_row(row)

    def pending_rights_requests(
        self, kinds: Iterable[str] = ACTIONABLE_RIGHTS_KINDS, limit: int | None = None
    ) -> list[RightsRequest]:
        """Rights requests not completed, or whose current status Ketch has not been sent; oldest first.

        :param kinds: request kinds to list (all four by default).
        :param limit: at most this many.
        """
        self.ensure_schema()
        t = ketch_rights_requests.c
        query = (
            select(ketch_rights_requests)
            .where(t.kind.in_(list(kinds)))
            .where((t.status != "completed") | t.notified_status.is_(None) | (t.notified_status != t.status))
            .order_by(t.event_id)
        )
        if limit is not None:
            query = query.limit(limit)
        with read_transaction(self._engine) as conn:
            return [RightsRequest.from_row(row) for row in conn.execute(query)]

    def update_rights_request(
        self,
        request_id: str,
        status: str,
        reason: str | None = None,
        *,
        result_message: str | None = None,
        expected_completion_at: float | None = None,
        results: Sequence[AccessResult | dict[str, Any]] | None = None,
    ) -> RightsRequest:
        """Move a rights request to a new status; ``reason`` and ``result_message`` replace the old ones.

        :param status: ``unknown``, ``pending``, ``in_progress`` or ``completed``.
        :param reason: one of Ketch's reasons (``executed``, ``no_match``...).
        :param result_message: free text for Ketch's operator (no personal data).
        :param expected_completion_at: unix seconds; kept when omitted.
        :param results: access results (Ketch's size limits are checked); kept when omitted.
        :raises RightsRequestNotFound: no such request.
        :raises RightsRequestClosed: it is already completed.
        :raises ValueError: unknown status or reason, or results over Ketch's limits.
        """
        checked = AccessStatusBody.model_validate({"status": status, "reason": reason, "results": results})
        self.ensure_schema()
        now = self._clock()
        values: dict[str, Any] = {
            "status": status,
            "reason": reason,
            "result_message": result_message,
            "updated_at": now,
            "completed_at": now if status == "completed" else None,
        }
        if expected_completion_at is not None:
            values["expected_completion_at"] = expected_completion_at
        if checked.results is not None:
            values["results"] = [r.to_dict() for r in checked.results]
        t = ketch_rights_requests.c
        with write_transaction(self._engine) as conn:
            changed = conn.execute(
                update(ketch_rights_requests).where(t.request_id == request_id, t.status != "completed").values(values)
            ).rowcount
            row = conn.execute(select(ketch_rights_requests).where(t.request_id == request_id)).first()
        if row is None:
            raise RightsRequestNotFound(request_id)
        if not changed:
            raise RightsRequestClosed(f"rights request {request_id} is completed and cannot change")
        return RightsRequest.from_row(row)

    def mark_rights_request_notified(self, request_id: str, status: str) -> None:
        """Record that a status event with ``status`` reached every callback of the request.

        :raises RightsRequestNotFound: no such request.
        :raises ValueError: unknown status.
        """
        DSRStatusBody.model_validate({"status": status})
        self.ensure_schema()
        t = ketch_rights_requests.c
        with write_transaction(self._engine) as conn:
            changed = conn.execute(
                update(ketch_rights_requests)
                .where(t.request_id == request_id)
                .values(notified_status=status, notified_at=self._clock())
            ).rowcount
        if not changed:
            raise RightsRequestNotFound(request_id)
