"""Ketch rights requests carried out in Braze and reported back to Ketch, as a service.

For each pending request the service finds the profiles in Braze with ``/users/export/ids``, does
what the request asks (see :class:`RightsRequestsService`), moves the request on in the state store
and posts each status to the request's callbacks. Every request body stays within the endpoint
catalogue's limits through the Braze batcher, as the exports' do. No Airflow imports: the operator
builds this with its hooks and reports.

.. seealso:: https://www.braze.com/docs/api/endpoints/export/user_data/post_users_identifier
.. seealso:: https://github.com/ketch-com/ketch-forwarder/tree/main/api/dsr/v1
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from airflow_provider_braze.braze.batching import Batcher
from airflow_provider_braze.braze.errors import BrazeError
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.ketch.braze_port import BrazePort
from airflow_provider_braze.ketch.callbacks import CallbackError, post_status_event
from airflow_provider_braze.ketch.identities import braze_identifiers
from airflow_provider_braze.ketch.models import RIGHTS_KINDS, AccessResult, Metadata
from airflow_provider_braze.ketch.rights_actions import CORRECTED_FIELDS, correction, profile_updates, unsubscribe_all

if TYPE_CHECKING:
    from airflow_provider_braze.state import KetchEventStore, RightsRequest

log = logging.getLogger(__name__)

#: What an access request returns: the profile fields /users/export/ids documents, less message history.
ACCESS_FIELDS = (
    "braze_id",
    "external_id",
    "user_aliases",
    "email",
    "phone",
    "first_name",
    "last_name",
    "dob",
    "gender",
    "country",
    "home_city",
    "language",
    "time_zone",
    "created_at",
    "custom_attributes",
    "custom_events",
    "purchases",
    "devices",
    "email_subscribe",
    "push_subscribe",
    "total_revenue",
)
#: What a delete, correction or restriction needs to find the profiles it changes.
LOOKUP_FIELDS = ("braze_id", "external_id")


class RightsRequestUnapplied(BrazeError):
    """Braze refused a profile update of a rights request (its ``errors`` name which and why)."""


@dataclass(frozen=True)
class RightsOutcome:
    """How a rights request ended: the summary key, and the ``completed`` status sent to Ketch.

    :param name: the summary key (``deleted``, ``exported``, ``no_match``...).
    :param reason: Ketch's reason (``executed``, ``no_match``, ``unknown``).
    :param message: the result message for Ketch's operator (no personal data).
    :param results: access results, for an access request.
    """

    name: str
    reason: str
    message: str
    results: list[AccessResult] | None = None


@dataclass
class RightsRun:
    """What a run did: outcomes counted by name, and the requests that failed (they stay pending).

    :param counts: requests handled, by outcome name.
    :param failed: ids of the requests that failed.
    """

    counts: Counter = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The operator's return value."""
        return {"handled": sum(self.counts.values()), **self.counts, "failed": len(self.failed)}


class RightsRequestsService:
    """Carries out pending Ketch rights requests in Braze and reports each outcome to Ketch.

    :param store: the event store holding the requests.
    :param braze: the Braze workspace (the Braze hook).
    :param session: the HTTP session status events are posted with.
    :param identity_spaces: ``{Ketch identity space: "emails" | "phones" | "external_ids"}``.
    :param use_subject_email: also look the user up by the email the requester typed in the form.
    :param access_fields: profile fields returned for access requests.
    :param correction_fields: ``{subject field or "formData.<name>": Braze attribute}`` a correction writes.
    :param restriction_subscription_groups: subscription groups a restriction of processing unsubscribes from.
    """

    def __init__(
        self,
        store: KetchEventStore,
        braze: BrazePort,
        session: requests.Session,
        *,
        identity_spaces: Mapping[str, str] | None = None,
        use_subject_email: bool = True,
        access_fields: Sequence[str] = ACCESS_FIELDS,
        correction_fields: Mapping[str, str] = CORRECTED_FIELDS,
        restriction_subscription_groups: Sequence[str] = (),
    ) -> None:
        self.store = store
        self.braze = braze
        self.session = session
        self.identity_spaces = identity_spaces or {"email": "emails"}
        self.use_subject_email = use_subject_email
        self.access_fields = tuple(access_fields)
        self.correction_fields = correction_fields
        self.restriction_subscription_groups = restriction_subscription_groups

    def run(self, kinds: Sequence[str], limit: int | None = None) -> RightsRun:
        """Handle the pending requests of these kinds, oldest first; a failed one stays pending.

        :param kinds: request kinds to handle.
        :param limit: at most this many requests.
        """
        result = RightsRun()
        for request in self.store.rights.pending_rights_requests(kinds=kinds, limit=limit):
            try:
                outcome = self.handle(request)
            except (BrazeError, CallbackError, requests.RequestException) as exc:
                log.error("Rights request %s (%s) failed: %s", request.request_id, request.kind, exc)
                result.failed.append(request.request_id)
                continue
            result.counts[outcome] += 1
        return result

    def handle(self, request: RightsRequest) -> str:
        """Carry out one request (or only tell Ketch again what an earlier run did); its outcome name."""
        if request.is_completed:
            self._notify(request)  # an earlier run did the work; Ketch was not told yet
            return "notified_again"
        if request.status != "in_progress":
            request = self.store.rights.update_rights_request(request.request_id, "in_progress", "requested")
            self._notify(request)
        fields = self.access_fields if request.kind == "AccessRequest" else LOOKUP_FIELDS
        users = self.find_users(request, fields)
        if users:
            outcome = self._carry_out(request, users)
        else:
            outcome = RightsOutcome("no_match", "no_match", "No Braze profile matches this request.")
        request = self.store.rights.update_rights_request(
            request.request_id, "completed", outcome.reason, result_message=outcome.message, results=outcome.results
        )
        self._notify(request)
        return outcome.name

    def _carry_out(self, request: RightsRequest, users: list[dict[str, Any]]) -> RightsOutcome:
        """Do in Braze what the request asks of the profiles found."""
        if request.kind == "DeleteRequest":
            braze_ids = sorted({u["braze_id"] for u in users if u.get("braze_id")})
            for body in self._bodies("users/delete", [Item("braze_ids", i) for i in braze_ids]):
                self.braze.call("users/delete", json=body)
            return RightsOutcome("deleted", "executed", f"{len(braze_ids)} Braze profile(s) deleted.")
        if request.kind == "AccessRequest":
            result = AccessResult.inline_json({"users": users})
            return RightsOutcome("exported", "executed", f"{len(users)} Braze profile(s) exported.", [result])
        if request.kind == "CorrectionRequest":
            fix = correction(request.subject, self.correction_fields)
            refused = "".join(f" {reason}." for _, reason in fix.refused)
            if not fix.attributes:
                return RightsOutcome("nothing_to_correct", "unknown", "Nothing to correct in Braze." + refused)
            self._update_profiles(users, fix.attributes)
            names = ", ".join(sorted(fix.attributes))
            return RightsOutcome("corrected", "executed", f"{len(users)} Braze profile(s) corrected: {names}.{refused}")
        self._update_profiles(users, unsubscribe_all(self.restriction_subscription_groups))
        groups = len(self.restriction_subscription_groups)
        return RightsOutcome(
            "restricted",
            "executed",
            f"{len(users)} Braze profile(s) unsubscribed from email, push and {groups} subscription group(s); "
            "Braze cannot restrict processing per purpose.",
        )

    def find_users(self, request: RightsRequest, fields: Sequence[str]) -> list[dict[str, Any]]:
        """The Braze profiles the request's identities name, each once.

        :param request: the rights request.
        :param fields: the profile fields to export.
        """
        subject_email = (request.subject or {}).get("email") if self.use_subject_email else None
        wanted = braze_identifiers(request.identities, self.identity_spaces, subject_email)
        ids = [Item("external_ids", i) for i in sorted(wanted["external_ids"])]
        # Emails and phones are looked up one per request: the endpoint takes a single value of each.
        bodies = list(self._bodies("users/export/ids", ids))
        bodies += [{"email_address": e} for e in sorted(wanted["emails"])]
        bodies += [{"phone": p} for p in sorted(wanted["phones"])]
        found: dict[str, dict[str, Any]] = {}
        for body in bodies:
            response = self.braze.call("users/export/ids", json={**body, "fields_to_export": list(fields)})
            for user in response.body.get("users") or ():
                found[user.get("braze_id") or repr(sorted(user.items()))] = user
        return list(found.values())

    def _update_profiles(self, users: list[dict[str, Any]], attributes: dict[str, Any]) -> None:
        """Write ``attributes`` to each profile with ``/users/track``; any object Braze refuses fails the request."""
        objects = [Item("attributes", o) for o in profile_updates(users, attributes)]
        for body in self._bodies("users/track", objects):
            response = self.braze.call("users/track", json=body)
            errors = response.body.get("errors") if isinstance(response.body, dict) else None
            if errors:
                # An attributes update is idempotent: the next run may send it again.
                raise RightsRequestUnapplied(f"Braze refused {len(errors)} profile update(s): {errors[0].get('type')}")

    def _bodies(self, endpoint: str, items: list[Item]) -> Iterator[dict[str, Any]]:
        """Request bodies carrying ``items`` within the endpoint's limits (this workspace's, from the catalogue)."""
        for batch in Batcher(self.braze.endpoint(endpoint)).batches(items):
            if batch.refusal is not None:
                raise RightsRequestUnapplied(f"no {endpoint} request can carry an object: {batch.refusal}")
            yield batch.payload()

    def _notify(self, request: RightsRequest) -> None:
        """Send the request's current status to every callback, then remember it was delivered."""
        kind = RIGHTS_KINDS[request.kind]
        fields: dict[str, Any] = {
            "status": request.status,
            "reason": request.reason,
            "result_message": request.result_message,
            "request_id": request.request_id,
        }
        if request.kind == "AccessRequest":
            fields["results"] = list(request.results or []) or None
        event = kind.status_event(
            metadata=Metadata(uid=request.request_id, tenant=request.tenant or ""), event=kind.body(**fields)
        )
        for callback in request.callbacks:
            post_status_event(self.session, callback, event)
        self.store.rights.mark_rights_request_notified(request.request_id, request.status)
