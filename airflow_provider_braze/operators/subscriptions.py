"""BrazeSubscriptionSyncOperator: Ketch preference changes into Braze subscription groups and email state."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from airflow.sdk import BaseOperator

from airflow_provider_braze.braze.errors import BrazeError
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.hooks.ketch import KetchHook
from airflow_provider_braze.ketch.sync_plan import GLOBAL_EMAIL, GROUP, Decision, SyncMapping, plan_sync
from airflow_provider_braze.operators.recorded_run import recorded_run
from airflow_provider_braze.redaction import mask_identifier
from airflow_provider_braze.rendered import parse_rendered
from airflow_provider_braze.state.ketch_sync_targets import AppliedTarget
from airflow_provider_braze.ui.links import BrazeSyncRunLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_braze.ketch.events import KetchEvent
    from airflow_provider_braze.state import KetchEventStore

log = logging.getLogger(__name__)

#: Identifiers per /v2/subscription/status/set entry (Braze allows 50 per array and per call).
IDS_PER_ENTRY = 50
#: How the sync's runs are filed in the sync ledger.
LEDGER_ENDPOINT, LEDGER_MODE = "v2/subscription/status/set", "subscriptions"


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
        # Changes Braze refused during a run: (fingerprint, event, reason), for the sync ledger.
        self._refused: list[tuple[str, str, str]] = []

    def execute(self, context: Context) -> dict[str, Any]:
        mapping = SyncMapping(
            subscription_groups=_mapping_argument("subscription_groups", self.subscription_groups),
            identity_spaces=_mapping_argument("identity_spaces", self.identity_spaces or {"email": "emails"}),
            unsubscribe_all_controls=frozenset(self.unsubscribe_all_controls),
        )
        store = KetchHook(ketch_conn_id=self.ketch_conn_id).get_event_store()
        braze = BrazeHook(braze_conn_id=self.braze_conn_id)
        run_id = str(context.get("run_id") or uuid.uuid4())
        first_id, last_id = self._range(store)
        summary: Counter = Counter()
        skipped: Counter = Counter()
        key = self.sync_key or f"{self.dag_id}.{self.task_id}"
        started = time.monotonic()
        with recorded_run(
            key, endpoint=LEDGER_ENDPOINT, mode=LEDGER_MODE, context=context, state_conn_id=self.state_conn_id
        ) as record:
            self._refused = record.refused
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
                    after = None if first_id is None else first_id - 1
                    while events := store.pending_changes(after_id=after, upto_id=last_id, limit=self.page_size):
                        self._sync_page(events, mapping, store, braze, run_id, summary, skipped)
                        after = events[-1].event_id
            finally:
                braze.close()
                record.summary = _ledger_summary(summary, time.monotonic() - started)
        result = _summary(summary, skipped)
        self.log.info("Summary: %s", result)
        return result

    def _range(self, store: KetchEventStore) -> tuple[int | None, int | None]:
        given = _mapping_argument("event_range", self.event_range) if self.event_range else None
        if given is not None:
            return given.get("first_id"), given.get("last_id")
        found = store.unsynced_range()
        return found.first_id, found.last_id

    def _sync_page(
        self,
        events: list[KetchEvent],
        mapping: SyncMapping,
        store: KetchEventStore,
        braze: BrazeHook,
        run_id: str,
        summary: Counter,
        skipped: Counter,
    ) -> None:
        plan = plan_sync(events, mapping)
        summary["events"] += len(events)
        summary["changes"] += plan.changes
        skipped.update(plan.skipped)
        applied = store.applied(plan.decisions)
        settled: set[str] = set()
        to_send: list[Decision] = []
        for key, decision in plan.decisions.items():
            previous = applied.get(key)
            if previous is not None and previous.order >= decision.order:
                settled.add(key)  # a newer (or the same) choice was already synced
                summary["superseded"] += 1
            else:
                to_send.append(decision)
        accepted: list[AppliedTarget] = []
        error: BaseException | None = None
        try:
            for outcome_keys, status, reason in self._send(to_send, braze, summary):
                if status == "accepted":
                    settled.update(outcome_keys)
                    accepted.extend(_applied(plan.decisions[k]) for k in outcome_keys)
                    summary["accepted"] += len(outcome_keys)
                elif status == "rejected":
                    settled.update(outcome_keys)
                    summary["rejected"] += len(outcome_keys)
                    for key in outcome_keys:
                        decision = plan.decisions[key]
                        self.log.warning("Braze refused %s: %s", _describe(decision), reason)
                        self._refused.append((key, f"event {decision.event_id}", f"{_describe(decision)}: {reason}"))
                else:
                    summary["not_applied"] += len(outcome_keys)
        except (BrazeError, requests.RequestException) as exc:
            error = exc
        synced, skipped_ids = [], defaultdict(list)
        for event in events:
            targets = plan.event_targets.get(event.stored_id, set())
            if not targets:
                skipped_ids[plan.event_skip_reasons.get(event.stored_id, "nothing to send")].append(event.stored_id)
            elif targets <= settled:
                synced.append(event.stored_id)
        # Settle what Braze took even when a later request failed: those changes must not be resent.
        store.settle(run_id, applied=accepted, synced=synced, skipped=skipped_ids)
        summary["events_synced"] += len(synced)
        summary["events_skipped"] += sum(len(v) for v in skipped_ids.values())
        if error is not None:
            raise error

    def _send(
        self, decisions: list[Decision], braze: BrazeHook, summary: Counter
    ) -> Iterator[tuple[list[str], str, str | None]]:
        """Send decisions; yield ``(fingerprints, status, reason)`` per object Braze answered for."""
        groups = [d for d in decisions if d.target.kind == GROUP]
        global_email = [d for d in decisions if d.target.kind == GLOBAL_EMAIL]
        # Braze takes emails and phones in separate /v2/subscription/status/set calls.
        for kind in ("external_ids", "emails", "phones"):
            items = list(_group_entries([d for d in groups if d.target.identifier_kind == kind], kind))
            yield from self._send_items(braze, "v2/subscription/status/set", items, summary)
        for state in ("unsubscribed", "subscribed"):
            emails = [d for d in global_email if d.target.identifier_kind == "emails" and d.state == state]
            items = [Item("email", d.target.identifier, ref=[d.target.fingerprint]) for d in emails]
            if state == "unsubscribed" and self.blocklist_on_unsubscribe_all and items:
                # Blocklisting also unsubscribes; its outcome decides the target's.
                yield from self._send_items(braze, "email/blocklist", items, summary)
                continue
            yield from self._send_items(braze, "email/status", items, summary, {"subscription_state": state})
        ids = [d for d in global_email if d.target.identifier_kind == "external_ids"]
        items = [
            Item(
                "attributes",
                {"external_id": d.target.identifier, "email_subscribe": d.state},
                ref=[d.target.fingerprint],
            )
            for d in ids
        ]
        yield from self._send_items(braze, "users/track", items, summary)

    @staticmethod
    def _send_items(
        braze: BrazeHook,
        endpoint: str,
        items: list[Item],
        summary: Counter,
        static_body: Mapping[str, Any] | None = None,
    ) -> Iterator[tuple[list[str], str, str | None]]:
        if not items:
            return
        for result in braze.send(endpoint, items, static_body=static_body):
            summary["requests"] += result.requests
            for outcome in result.outcomes:
                yield outcome.item.ref, outcome.status, outcome.reason


def _group_entries(decisions: list[Decision], kind: str) -> Iterator[Item]:
    by_group: dict[tuple[str | None, str], list[Decision]] = defaultdict(list)
    for d in decisions:
        by_group[d.target.group_id, d.state].append(d)
    for (group_id, state), members in by_group.items():
        for i in range(0, len(members), IDS_PER_ENTRY):
            chunk = members[i : i + IDS_PER_ENTRY]
            entry = {
                "subscription_group_id": group_id,
                "subscription_state": state,
                kind: [d.target.identifier for d in chunk],
            }
            yield Item("subscription_groups", entry, ref=[d.target.fingerprint for d in chunk])


def _applied(decision: Decision) -> AppliedTarget:
    return AppliedTarget(decision.target.fingerprint, decision.state, decision.submitted_at, decision.event_id)


def _describe(decision: Decision) -> str:
    target = decision.target
    what = f"group {target.group_id}" if target.kind == GROUP else "global email state"
    return f"{decision.state} for {mask_identifier(target.identifier)} ({what}, Ketch event {decision.event_id})"


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


def _ledger_summary(summary: Counter, seconds: float) -> dict[str, Any]:
    """The run's counts in the exports' terms, for the sync history page (and the originals beside them)."""
    sent = summary["accepted"] + summary["rejected"] + summary["not_applied"]
    return {
        "endpoint": LEDGER_ENDPOINT,
        "rows_read": summary["events"],
        "rows_sent": sent,
        "accepted": summary["accepted"],
        "rejected": summary["rejected"],
        "unknown": summary["not_applied"],
        "skipped": summary["events_skipped"],
        "unchanged": summary["superseded"],
        "requests": summary["requests"],
        "data_points": 0,  # subscription states cost no data points
        "seconds": round(seconds, 3),
        **{k: summary[k] for k in ("events", "changes", "events_synced", "events_skipped", "not_applied")},
    }


def _summary(summary: Counter, skipped: Counter) -> dict[str, Any]:
    keys = (
        "events",
        "changes",
        "accepted",
        "rejected",
        "not_applied",
        "superseded",
        "requests",
        "events_synced",
        "events_skipped",
    )
    return {**{k: summary.get(k, 0) for k in keys}, "skipped": dict(skipped)}
