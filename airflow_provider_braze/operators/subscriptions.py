"""BrazeSubscriptionSyncOperator: Ketch preference changes into Braze subscription groups and email state."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_braze.braze.cancel import CancelToken
from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.hooks.ketch import KetchHook
from airflow_provider_braze.ketch.subscription_requests import SUBSCRIPTION_STATUS
from airflow_provider_braze.ketch.subscription_sync import SubscriptionSync, SyncResult
from airflow_provider_braze.ketch.sync_plan import SyncMapping
from airflow_provider_braze.operators.recorded_run import recorded_run
from airflow_provider_braze.rendered import parse_rendered
from airflow_provider_braze.ui.links import BrazeSyncRunLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_braze.state import KetchEventStore

#: How the sync's runs are filed in the sync ledger.
LEDGER_ENDPOINT, LEDGER_MODE = SUBSCRIPTION_STATUS, "subscriptions"


class BrazeSubscriptionSyncOperator(BaseOperator):
    """Carry Ketch preference changes into Braze subscription groups and the global email state.

    Reads the pending changes the Ketch webhook receiver stored (all of them, or the range a
    :class:`~airflow_provider_braze.sensors.ketch.KetchPreferenceChangeSensor` found), collapses them
    so that each user's latest choice per topic and channel wins whatever order Ketch delivered them
    in, maps ``topic x channel`` to a ``subscription_group_id`` (``granted`` -> subscribed,
    ``denied`` -> unsubscribed), and sends them through ``/v2/subscription/status/set``. An
    "unsubscribe from all" control sets the global email state (``/email/status``, optionally also
    ``/email/blocklist``). Events are marked synced only after Braze accepted their changes, so a
    run that fails leaves the rest for the next run. Subscription-state changes cost no data points.

    .. seealso:: https://www.braze.com/docs/api/endpoints/subscription_groups/post_update_user_subscription_group_status_v2

    :param subscription_groups: ``{topic: {channel: subscription_group_id}}``, e.g.
        ``{"newsletter": {"email": "8f1c...", "sms": "2b7e..."}}``.
    :param identity_spaces: ``{Ketch identity space: "emails" | "phones" | "external_ids"}``;
        default ``{"email": "emails"}``. Phones must be E.164; hashed identities are skipped.
    :param unsubscribe_all_controls: Ketch control codes meaning "unsubscribe from all".
    :param blocklist_on_unsubscribe_all: also blocklist the email address (Braze then also treats it
        as hard-bounced) when a user unsubscribes from all.
    :param event_range: the ``{"first_id", "last_id", "count"}`` a sensor returned (templated, e.g.
        ``"{{ ti.xcom_pull(task_ids='wait_for_changes') }}"``); default: every pending change.
    :param ketch_conn_id: the Ketch connection (its state store holds the events).
    :param braze_conn_id: the Braze connection.
    :param page_size: events read from the store at a time.
    :param sync_key: the sync's name in the sync ledger, whose runs the sync history page and the
        "Braze sync run" extra link show (default ``dag_id.task_id``).
    :param state_conn_id: the state store holding the sync ledger (default: the SQLite file under
        ``AIRFLOW_HOME``), as for the export operators.
    """

    template_fields: Sequence[str] = (
        "subscription_groups",
        "identity_spaces",
        "event_range",
        "ketch_conn_id",
        "braze_conn_id",
        "sync_key",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "subscription_groups": "json",
        "identity_spaces": "json",
        "event_range": "json",
    }
    ui_color = "#e5f3ff"
    operator_extra_links = (BrazeSyncRunLink(),)
    #: The runs go to the sync ledger (read by the extra link).
    records_sync_runs: ClassVar[bool] = True

    def __init__(
        self,
        *,
        subscription_groups: Mapping[str, Mapping[str, str]] | str,
        identity_spaces: Mapping[str, str] | str | None = None,
        unsubscribe_all_controls: Sequence[str] = ("global_subscription", "global_unsubscribe"),
        blocklist_on_unsubscribe_all: bool = False,
        event_range: Mapping[str, Any] | str | None = None,
        ketch_conn_id: str = KetchHook.default_conn_name,
        braze_conn_id: str = BrazeHook.default_conn_name,
        page_size: int = 10_000,
        sync_key: str | None = None,
        state_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.subscription_groups = subscription_groups
        self.identity_spaces = identity_spaces
        self.unsubscribe_all_controls = unsubscribe_all_controls
        self.blocklist_on_unsubscribe_all = blocklist_on_unsubscribe_all
        self.event_range = event_range
        self.ketch_conn_id = ketch_conn_id
        self.braze_conn_id = braze_conn_id
        self.page_size = page_size
        self.sync_key = sync_key
        self.state_conn_id = state_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        mapping = SyncMapping(
            subscription_groups=_mapping_argument("subscription_groups", self.subscription_groups),
            identity_spaces=_mapping_argument("identity_spaces", self.identity_spaces or {"email": "emails"}),
            unsubscribe_all_controls=frozenset(self.unsubscribe_all_controls),
        )
        store = KetchHook(ketch_conn_id=self.ketch_conn_id).get_event_store()
        self._cancel_token = CancelToken()
        braze = BrazeHook(braze_conn_id=self.braze_conn_id, cancel_token=self._cancel_token)
        sync = SubscriptionSync(
            store,
            braze,
            mapping,
            run_id=str(context.get("run_id") or uuid.uuid4()),
            blocklist_on_unsubscribe_all=self.blocklist_on_unsubscribe_all,
            page_size=self.page_size,
        )
        first_id, last_id = self._range(store)
        key = self.sync_key or f"{self.dag_id}.{self.task_id}"
        started = time.monotonic()
        with recorded_run(
            key, endpoint=LEDGER_ENDPOINT, mode=LEDGER_MODE, context=context, state_conn_id=self.state_conn_id
        ) as record:
            # The ledger's own list: changes Braze refused reach it even when the run fails.
            result = SyncResult(refused=record.refused)
            try:
                if last_id is None:
                    self.log.info("No pending Ketch preference changes.")
                else:
                    self.log.info(
                        "Syncing pending Ketch changes with event ids %s..%s to Braze %s",
                        first_id,
                        last_id,
                        braze.base_url,
                    )
                    sync.run(first_id, last_id, result)
            finally:
                braze.close()
                record.summary = result.ledger_summary(time.monotonic() - started)
        summary = result.summary()
        self.log.info("Summary: %s", summary)
        return summary

    def on_kill(self) -> None:
        """Stop sending within seconds when Airflow kills the task (its SIGTERM handler calls this).

        No new request leaves; changes waiting to be sent stay pending for the next run, and what
        Braze already accepted is settled, as after any failed request.
        """
        token = getattr(self, "_cancel_token", None)
        if token is not None and not token.cancelled:
            self.log.warning("Cancelling the subscription sync: no new request leaves")
            token.cancel("subscription sync cancelled (SIGTERM)")

    def _range(self, store: KetchEventStore) -> tuple[int | None, int | None]:
        given = _mapping_argument("event_range", self.event_range) if self.event_range else None
        if given is not None:
            return given.get("first_id"), given.get("last_id")
        found = store.unsynced_range()
        return found.first_id, found.last_id


def _mapping_argument(name: str, value: Any) -> dict[str, Any]:
    """A dict argument that may have been rendered from a template into its text form."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            parsed = parse_rendered(value)
            if isinstance(parsed, Mapping):
                return dict(parsed)
    raise ValueError(f"{name} must be a mapping (or its JSON text), got {value!r:.200}")
