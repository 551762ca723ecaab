"""BrazeRightsRequestsOperator: Ketch rights requests carried out in Braze, reported back to Ketch."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_braze.braze.endpoints import CATALOGUE
from airflow_provider_braze.braze.errors import BrazeError
from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.hooks.ketch import KetchHook
from airflow_provider_braze.ketch.callbacks import CallbackError, post_status_event
from airflow_provider_braze.ketch.models import RIGHTS_KINDS, AccessResult, Metadata
from airflow_provider_braze.ketch.rights_actions import (
    CORRECTED_FIELDS,
    correction,
    profile_updates,
    unsubscribe_all,
)
from airflow_provider_braze.ketch.sync_plan import normalise_identifier

if TYPE_CHECKING:
    from airflow.sdk import Context

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


def _per_request(endpoint: str) -> int:
    """Objects per request to ``endpoint``: the catalogue caps each endpoint used here."""
    limit = CATALOGUE[endpoint].max_items
    if limit is None:
        raise ValueError(f"the endpoint catalogue sets no per-request cap for {endpoint}")
    return limit


#: Attribute objects per /users/track request, from the endpoint catalogue.
_TRACK_OBJECTS = _per_request("users/track")


class RightsRequestUnapplied(BrazeError):
    """Braze refused a profile update of a rights request (its ``errors`` name which and why)."""


@dataclass(frozen=True)
class _Outcome:
    """How a rights request ended: the summary key, and the ``completed`` status sent to Ketch."""

    name: str
    reason: str
    message: str
    results: list[AccessResult] | None = None


class BrazeRightsRequestsOperator(BaseOperator):
    """Carry out pending Ketch rights requests in Braze and report each outcome to Ketch.

    For every rights request the Ketch webhook receiver stored, the operator finds the user in
    Braze with ``/users/export/ids`` (by external id, email or phone, as the request's identities
    allow), then:

    * **DeleteRequest**: deletes the profiles found with ``/users/delete`` (by ``braze_id``) and
      reports ``completed`` / ``executed``;
    * **AccessRequest**: returns the exported profile as an inline JSON result with ``completed`` /
      ``executed``;
    * **CorrectionRequest**: writes the corrected details the request's subject carries (first and
      last name, city, country, and any ``formData`` field named in ``correction_fields``) to the
      profiles with ``/users/track`` (never creating one), ``completed`` / ``executed``; a subject
      with nothing usable is reported ``completed`` / ``unknown`` with the reason;
    * **RestrictProcessingRequest**: Braze cannot restrict processing per purpose, so the profiles
      are unsubscribed from all: global email and push states ``unsubscribed`` and each of
      ``restriction_subscription_groups`` unsubscribed, ``completed`` / ``executed``;
    * no profile found: ``completed`` / ``no_match``.

    Status events (``in_progress``, then ``completed``) go to the request's callback URLs until
    delivered; a request whose last status was not delivered is retried on the next run.

    .. seealso:: https://www.braze.com/docs/api/endpoints/user_data/post_user_delete
    .. seealso:: https://github.com/ketch-com/ketch-forwarder/tree/main/api/dsr/v1

    :param identity_spaces: ``{Ketch identity space: "emails" | "phones" | "external_ids"}``;
        default ``{"email": "emails"}``.
    :param use_subject_email: also look the user up by the email the requester typed in the form.
    :param kinds: request kinds to handle (all four by default); the others wait for another task.
    :param access_fields: profile fields returned for access requests.
    :param correction_fields: ``{subject field or "formData.<name>": Braze attribute}`` a correction
        writes; default first name, last name, city and country.
    :param restriction_subscription_groups: subscription group ids (SMS, WhatsApp...) a restriction
        of processing unsubscribes the profiles from, besides the global email and push states.
    :param ketch_conn_id: the Ketch connection (its state store holds the requests).
    :param braze_conn_id: the Braze connection.
    :param max_requests: at most this many requests per run.
    """

    template_fields: Sequence[str] = (
        "identity_spaces",
        "restriction_subscription_groups",
        "ketch_conn_id",
        "braze_conn_id",
    )
    ui_color = "#ffe9e5"

    def __init__(
        self,
        *,
        identity_spaces: Mapping[str, str] | None = None,
        use_subject_email: bool = True,
        kinds: Sequence[str] = tuple(RIGHTS_KINDS),
        access_fields: Sequence[str] = ACCESS_FIELDS,
        correction_fields: Mapping[str, str] = CORRECTED_FIELDS,
        restriction_subscription_groups: Sequence[str] = (),
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
        self.correction_fields = correction_fields
        self.restriction_subscription_groups = restriction_subscription_groups
        self.ketch_conn_id = ketch_conn_id
        self.braze_conn_id = braze_conn_id
        self.max_requests = max_requests

    def execute(self, context: Context) -> dict[str, Any]:
        store = KetchHook(ketch_conn_id=self.ketch_conn_id).get_event_store()
        braze = BrazeHook(braze_conn_id=self.braze_conn_id)
        counts: Counter = Counter()
        failed: list[str] = []
        with requests.Session() as session:
            for request in store.rights.pending_rights_requests(kinds=self.kinds, limit=self.max_requests):
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

    def _handle(
        self, request: RightsRequest, store: KetchEventStore, braze: BrazeHook, session: requests.Session
    ) -> str:
        if request.is_completed:
            self._notify(request, store, session)  # an earlier run did the work; Ketch was not told yet
            return "notified_again"
        if request.status != "in_progress":
            request = store.rights.update_rights_request(request.request_id, "in_progress", "requested")
            self._notify(request, store, session)
        fields = tuple(self.access_fields) if request.kind == "AccessRequest" else LOOKUP_FIELDS
        users = self._find_users(request, braze, fields)
        if users:
            outcome = self._carry_out(request, users, braze)
        else:
            outcome = _Outcome("no_match", "no_match", "No Braze profile matches this request.")
        request = store.rights.update_rights_request(
            request.request_id, "completed", outcome.reason, result_message=outcome.message, results=outcome.results
        )
        self._notify(request, store, session)
        return outcome.name

    def _carry_out(self, request: RightsRequest, users: list[dict[str, Any]], braze: BrazeHook) -> _Outcome:
        """Do in Braze what the request asks of the profiles found."""
        if request.kind == "DeleteRequest":
            braze_ids = sorted({u["braze_id"] for u in users if u.get("braze_id")})
            limit = _per_request("users/delete")
            for i in range(0, len(braze_ids), limit):
                braze.call("users/delete", json={"braze_ids": braze_ids[i : i + limit]})
            return _Outcome("deleted", "executed", f"{len(braze_ids)} Braze profile(s) deleted.")
        if request.kind == "AccessRequest":
            result = AccessResult.inline_json({"users": users})
            return _Outcome("exported", "executed", f"{len(users)} Braze profile(s) exported.", [result])
        if request.kind == "CorrectionRequest":
            fix = correction(request.subject, self.correction_fields)
            refused = "".join(f" {reason}." for _, reason in fix.refused)
            if not fix.attributes:
                return _Outcome("nothing_to_correct", "unknown", "Nothing to correct in Braze." + refused)
            _update_profiles(braze, users, fix.attributes)
            names = ", ".join(sorted(fix.attributes))
            return _Outcome("corrected", "executed", f"{len(users)} Braze profile(s) corrected: {names}.{refused}")
        _update_profiles(braze, users, unsubscribe_all(self.restriction_subscription_groups))
        groups = len(self.restriction_subscription_groups)
        return _Outcome(
            "restricted",
            "executed",
            f"{len(users)} Braze profile(s) unsubscribed from email, push and {groups} subscription group(s); "
            "Braze cannot restrict processing per purpose.",
        )

    def _find_users(self, request: RightsRequest, braze: BrazeHook, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        """The Braze profiles the request's identities name, each once."""
        spaces = self.identity_spaces or {"email": "emails"}
        wanted: dict[str, set[str]] = {"external_ids": set(), "emails": set(), "phones": set()}
        for identity in request.identities:
            kind = spaces.get(identity.identity_space)
            if not kind or identity.identity_format != "raw":
                continue
            value = normalise_identifier(kind, identity.identity_value)
            if value:
                wanted[kind].add(value)
        subject_email = (request.subject or {}).get("email")
        if self.use_subject_email and subject_email:
            value = normalise_identifier("emails", subject_email)
            if value:
                wanted["emails"].add(value)
        found: dict[str, dict[str, Any]] = {}
        bodies: list[dict[str, Any]] = [
            {"external_ids": sorted(wanted["external_ids"])[i : i + 50]}
            for i in range(0, len(wanted["external_ids"]), 50)
        ]
        bodies += [{"email_address": e} for e in sorted(wanted["emails"])]
        bodies += [{"phone": p} for p in sorted(wanted["phones"])]
        for body in bodies:
            response = braze.call("users/export/ids", json={**body, "fields_to_export": list(fields)})
            for user in response.body.get("users") or ():
                found[user.get("braze_id") or repr(sorted(user.items()))] = user
        return list(found.values())

    def _notify(self, request: RightsRequest, store: KetchEventStore, session: requests.Session) -> None:
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
            post_status_event(session, callback, event)
        store.rights.mark_rights_request_notified(request.request_id, request.status)


def _update_profiles(braze: BrazeHook, users: list[dict[str, Any]], attributes: dict[str, Any]) -> None:
    """Write ``attributes`` to each profile with ``/users/track``; any object Braze refuses fails the request."""
    objects = profile_updates(users, attributes)
    for i in range(0, len(objects), _TRACK_OBJECTS):
        response = braze.call("users/track", json={"attributes": objects[i : i + _TRACK_OBJECTS]})
        errors = response.body.get("errors") if isinstance(response.body, dict) else None
        if errors:
            # An attributes update is idempotent: the next run may send it again.
            raise RightsRequestUnapplied(f"Braze refused {len(errors)} profile update(s): {errors[0].get('type')}")
