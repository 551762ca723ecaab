"""BrazeRightsRequestsOperator: Ketch rights requests carried out in Braze, reported back to Ketch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import requests
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.hooks.ketch import KetchHook
from airflow_provider_braze.ketch.models import RIGHTS_KINDS
from airflow_provider_braze.ketch.rights_actions import CORRECTED_FIELDS
from airflow_provider_braze.ketch.rights_service import ACCESS_FIELDS, RightsRequestsService

if TYPE_CHECKING:
    from airflow.sdk import Context


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
        with requests.Session() as session:
            service = RightsRequestsService(
                store,
                braze,
                session,
                identity_spaces=self.identity_spaces,
                use_subject_email=self.use_subject_email,
                access_fields=self.access_fields,
                correction_fields=self.correction_fields,
                restriction_subscription_groups=self.restriction_subscription_groups,
            )
            run = service.run(self.kinds, self.max_requests)
        summary = run.summary()
        self.log.info("Summary: %s", summary)
        if run.failed:
            raise AirflowException(
                f"{len(run.failed)} rights requests could not be completed and stay pending for the next run: "
                f"{', '.join(run.failed[:10])}"
            )
        return summary
