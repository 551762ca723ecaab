"""BrazeRightsRequestsOperator: Ketch delete and access requests carried out in Braze, reported back to Ketch."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import requests
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_braze.braze.errors import BrazeError
from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.hooks.ketch import KetchHook
from airflow_provider_braze.ketch.callbacks import CallbackError, post_status_event
from airflow_provider_braze.ketch.models import (
    AccessResult,
    AccessStatusBody,
    AccessStatusEvent,
    DeleteStatusEvent,
    DSRStatusBody,
    Metadata,
)
from airflow_provider_braze.ketch.sync_plan import normalise_identifier

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_braze.state import KetchEventStore, RightsRequest

log = logging.getLogger(__name__)

#: What an access request returns: the profile fields /users/export/ids documents, less message history.
ACCESS_FIELDS = (
    "braze_id", "external_id", "user_aliases", "email", "phone", "first_name", "last_name", "dob", "gender",
    "country", "home_city", "language", "time_zone", "created_at", "custom_attributes", "custom_events",
    "purchases", "devices", "email_subscribe", "push_subscribe", "total_revenue",
)
#: What a delete request needs to find the profiles to delete.
LOOKUP_FIELDS = ("braze_id", "external_id")


class BrazeRightsRequestsOperator(BaseOperator):
    """Carry out pending Ketch rights requests in Braze and report each outcome to Ketch.

    For every delete or access request the Ketch webhook receiver stored, the operator finds the
    user in Braze with ``/users/export/ids`` (by external id, email or phone, as the request's
    identities allow), then:

    * **DeleteRequest**: deletes the profiles found with ``/users/delete`` (by ``braze_id``) and
      reports ``completed`` / ``executed``;
    * **AccessRequest**: returns the exported profile as an inline JSON result with ``completed`` /
      ``executed``;
    * no profile found: ``completed`` / ``no_match``.

    Status events (``in_progress``, then ``completed``) go to the request's callback URLs until
    delivered; a request whose last status was not delivered is retried on the next run.

    .. seealso:: https://www.braze.com/docs/api/endpoints/user_data/post_user_delete

    :param identity_spaces: ``{Ketch identity space: "emails" | "phones" | "external_ids"}``;
        default ``{"email": "emails"}``.
    :param use_subject_email: also look the user up by the email the requester typed in the form.
    :param kinds: request kinds to handle: ``DeleteRequest``, ``AccessRequest`` or both.
    :param access_fields: profile fields returned for access requests.
    :param ketch_conn_id: the Ketch connection (its state store holds the requests).
    :param braze_conn_id: the Braze connection.
    :param max_requests: at most this many requests per run.
    """

    template_fields: Sequence[str] = ("identity_spaces", "ketch_conn_id", "braze_conn_id")
    ui_color = "#ffe9e5"

    def __init__(
        self,
        *,
        identity_spaces: Mapping[str, str] | None = None,
        use_subject_email: bool = True,
        kinds: Sequence[str] = ("DeleteRequest", "AccessRequest"),
        access_fields: Sequence[str] = ACCESS_FIELDS,
        ketch_conn_id: str = KetchHook.default_conn_name,
        braze_conn_id: str = BrazeHook.default_conn_name,
        max_requests: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.identity_spaces = identity_spaces
        self.use_subject_email = use_subject_email
        self.kinds = kinds
        self.access_fields = access_fields
        self.ketch_conn_id = ketch_conn_id
        self.braze_conn_id = braze_conn_id
        self.max_requests = max_requests

    def execute(self, context: Context) -> dict[str, Any]:
        store = KetchHook(ketch_conn_id=self.ketch_conn_id).get_event_store()
        braze = BrazeHook(braze_conn_id=self.braze_conn_id)
        counts: Counter = Counter()
        failed: list[str] = []
        with requests.Session() as session:
            for request in store.pending_rights_requests(kinds=self.kinds, limit=self.max_requests):
                try:
                    outcome = self._handle(request, store, braze, session)
                except (BrazeError, CallbackError, requests.RequestException) as exc:
                    self.log.error("Rights request %s (%s) failed: %s", request.request_id, request.kind, exc)
                    failed.append(request.request_id)
                    continue
                counts[outcome] += 1
        summary = {"handled": sum(counts.values()), **counts, "failed": len(failed)}
        self.log.info("Summary: %s", summary)
        if failed:
            raise AirflowException(
                f"{len(failed)} rights requests could not be completed and stay pending for the next run: "
                f"{', '.join(failed[:10])}"
            )
        return summary

    def _handle(self, request: RightsRequest, store: KetchEventStore, braze: BrazeHook, session: requests.Session) -> str:
        if request.is_completed:
            self._notify(request, store, session)  # an earlier run did the work; Ketch was not told yet
            return "notified_again"
        if request.status != "in_progress":
            request = store.update_rights_request(request.request_id, "in_progress", "requested")
            self._notify(request, store, session)
        delete = request.kind == "DeleteRequest"
        users = self._find_users(request, braze, LOOKUP_FIELDS if delete else tuple(self.access_fields))
        if not users:
            request = store.update_rights_request(
                request.request_id, "completed", "no_match", result_message="No Braze profile matches this request."
            )
            outcome = "no_match"
        elif delete:
            braze_ids = sorted({u["braze_id"] for u in users if u.get("braze_id")})
            deleted = 0
            for i in range(0, len(braze_ids), 50):
                deleted += int(braze.call("users/delete", json={"braze_ids": braze_ids[i : i + 50]}).body.get("deleted") or 0)
            request = store.update_rights_request(
                request.request_id, "completed", "executed",
                result_message=f"{len(braze_ids)} Braze profile(s) deleted.",
            )
            outcome = "deleted"
        else:
            result = AccessResult.inline_json({"users": users})
            request = store.update_rights_request(
                request.request_id, "completed", "executed",
                result_message=f"{len(users)} Braze profile(s) exported.", results=[result],
            )
            outcome = "exported"
        self._notify(request, store, session)
        return outcome

    def _find_users(self, request: RightsRequest, braze: BrazeHook, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        """The Braze profiles the request's identities name, each once."""
        spaces = self.identity_spaces or {"email": "emails"}
        wanted: dict[str, set[str]] = {"external_ids": set(), "emails": set(), "phones": set()}
        for identity in request.identities:
            kind = spaces.get(identity.identity_space)
            value = normalise_identifier(kind, identity.identity_value) if kind and identity.identity_format == "raw" else None
            if value:
                wanted[kind].add(value)
        subject_email = (request.subject or {}).get("email")
        if self.use_subject_email and subject_email:
            value = normalise_identifier("emails", subject_email)
            if value:
                wanted["emails"].add(value)
        found: dict[str, dict[str, Any]] = {}
        bodies = [{"external_ids": sorted(wanted["external_ids"])[i : i + 50]} for i in range(0, len(wanted["external_ids"]), 50)]
        bodies += [{"email_address": e} for e in sorted(wanted["emails"])]
        bodies += [{"phone": p} for p in sorted(wanted["phones"])]
        for body in bodies:
            response = braze.call("users/export/ids", json={**body, "fields_to_export": list(fields)})
            for user in response.body.get("users") or ():
                found[user.get("braze_id") or repr(sorted(user.items()))] = user
        return list(found.values())

    def _notify(self, request: RightsRequest, store: KetchEventStore, session: requests.Session) -> None:
        """Send the request's current status to every callback, then remember it was delivered."""
        metadata = Metadata(uid=request.request_id, tenant=request.tenant or "")
        fields = dict(status=request.status, reason=request.reason, result_message=request.result_message, request_id=request.request_id)
        if request.kind == "AccessRequest":
            event = AccessStatusEvent(metadata=metadata, event=AccessStatusBody(**fields, results=list(request.results or []) or None))
        else:
            event = DeleteStatusEvent(metadata=metadata, event=DSRStatusBody(**fields))
        for callback in request.callbacks:
            post_status_event(session, callback, event)
        store.mark_rights_request_notified(request.request_id, request.status)
