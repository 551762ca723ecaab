"""The Ketch preference sync as a service: pending changes from the event store into Braze, page by page.

For each page of pending events: plan (collapse per target, map to Braze, see
:mod:`~airflow_provider_braze.ketch.sync_plan`), drop what an earlier run already applied a newer
choice to, send the rest through the Braze sender (:mod:`~airflow_provider_braze.ketch.subscription_requests`
decides which endpoint gets what), then settle the page in the store
(:meth:`~airflow_provider_braze.state.ketch_events.KetchEventStore.settle`). No Airflow imports: the
operator builds this with its hooks, runs it and reports.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from airflow_provider_braze.braze.errors import BrazeError
from airflow_provider_braze.ketch.braze_port import BrazePort
from airflow_provider_braze.ketch.subscription_requests import SUBSCRIPTION_STATUS, braze_requests
from airflow_provider_braze.ketch.sync_plan import GROUP, Decision, SyncMapping, SyncPlan, plan_sync
from airflow_provider_braze.redaction import mask_identifier
from airflow_provider_braze.state.ketch_sync_targets import AppliedTarget

if TYPE_CHECKING:
    from airflow_provider_braze.ketch.events import KetchEvent
    from airflow_provider_braze.state import KetchEventStore

log = logging.getLogger(__name__)

#: The operator's summary keys, in order (``skipped``, by reason, follows them).
SUMMARY_KEYS = (
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


@dataclass
class SyncResult:
    """What a sync did so far: counts, changes skipped by reason, and what Braze refused.

    :param counts: the :data:`SUMMARY_KEYS` counts.
    :param skipped: changes skipped while planning, by reason.
    :param refused: ``(fingerprint, event, reason)`` per change Braze refused (the sync ledger's rows);
        pass the ledger's own list to have them land there even when the run fails.
    """

    counts: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    refused: list[tuple[str, str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The operator's return value."""
        return {**{k: self.counts.get(k, 0) for k in SUMMARY_KEYS}, "skipped": dict(self.skipped)}

    def ledger_summary(self, seconds: float) -> dict[str, Any]:
        """The run's counts in the exports' terms, for the sync history page (and the originals beside them).

        :param seconds: how long the run took.
        """
        c = self.counts
        return {
            "endpoint": SUBSCRIPTION_STATUS,
            "rows_read": c["events"],
            "rows_sent": c["accepted"] + c["rejected"] + c["not_applied"],
            "accepted": c["accepted"],
            "rejected": c["rejected"],
            "unknown": c["not_applied"],
            "skipped": c["events_skipped"],
            "unchanged": c["superseded"],
            "requests": c["requests"],
            "data_points": 0,  # subscription states cost no data points
            "seconds": round(seconds, 3),
            **{k: c[k] for k in ("events", "changes", "events_synced", "events_skipped", "not_applied")},
        }


class SubscriptionSync:
    """Carries pending Ketch preference changes into Braze and settles them in the event store.

    :param store: the event store the webhook receiver writes.
    :param braze: the Braze workspace (the Braze hook).
    :param mapping: identity spaces, subscription groups and "unsubscribe from all" controls.
    :param run_id: the run's id, kept with each settled event.
    :param blocklist_on_unsubscribe_all: also blocklist an email that unsubscribes from all.
    :param page_size: events read from the store at a time.
    """

    def __init__(
        self,
        store: KetchEventStore,
        braze: BrazePort,
        mapping: SyncMapping,
        *,
        run_id: str,
        blocklist_on_unsubscribe_all: bool = False,
        page_size: int = 10_000,
    ) -> None:
        self.store = store
        self.braze = braze
        self.mapping = mapping
        self.run_id = run_id
        self.blocklist_on_unsubscribe_all = blocklist_on_unsubscribe_all
        self.page_size = page_size

    def run(self, first_id: int | None, last_id: int, result: SyncResult | None = None) -> SyncResult:
        """Sync the pending events with ids ``first_id..last_id``, page by page.

        :param first_id: the lowest id (``None``: from the first pending one).
        :param last_id: the highest id, inclusive.
        :param result: where the counts go (kept as they stand when a page fails).
        :raises BrazeError: a request failed; what Braze took before it is settled, the rest stays pending.
        """
        result = result if result is not None else SyncResult()
        after = None if first_id is None else first_id - 1
        while events := self.store.pending_changes(after_id=after, upto_id=last_id, limit=self.page_size):
            self.sync_page(events, result)
            after = events[-1].event_id
        return result

    def sync_page(self, events: list[KetchEvent], result: SyncResult) -> None:
        """Plan, send and settle one page of events.

        :param events: pending events in id order.
        :param result: where the counts go.
        """
        plan = plan_sync(events, self.mapping)
        result.counts.update(events=len(events), changes=plan.changes)
        result.skipped.update(plan.skipped)
        page = _Page(plan)
        page.drop_superseded(self.store.applied(plan.decisions), result)
        error: BaseException | None = None
        try:
            for keys, status, reason in self._send(page.to_send, result):
                page.record(keys, status, reason, result)
        except (BrazeError, requests.RequestException) as exc:
            error = exc
        # Settle what Braze took even when a later request failed: those changes must not be resent.
        synced, skipped = page.settled_events(events)
        self.store.settle(self.run_id, applied=page.accepted, synced=synced, skipped=skipped)
        result.counts.update(events_synced=len(synced), events_skipped=sum(len(v) for v in skipped.values()))
        if error is not None:
            raise error

    def _send(self, decisions: list[Decision], result: SyncResult) -> Iterator[tuple[list[str], str, str | None]]:
        """Send decisions; yield ``(fingerprints, status, reason)`` per object Braze answered for."""
        for request in braze_requests(decisions, blocklist_on_unsubscribe_all=self.blocklist_on_unsubscribe_all):
            if not request.items:
                continue
            for batch in self.braze.send(request.endpoint, request.items, static_body=request.static_body):
                result.counts["requests"] += batch.requests
                for outcome in batch.outcomes:
                    yield outcome.item.ref, outcome.status, outcome.reason


@dataclass
class _Page:
    """One page's decisions on their way to Braze, and which targets are settled."""

    plan: SyncPlan
    to_send: list[Decision] = field(default_factory=list)
    settled: set[str] = field(default_factory=set)
    accepted: list[AppliedTarget] = field(default_factory=list)

    def drop_superseded(self, applied: dict[str, AppliedTarget], result: SyncResult) -> None:
        """Keep to send only decisions newer than what an earlier run applied to their targets."""
        for key, decision in self.plan.decisions.items():
            previous = applied.get(key)
            if previous is not None and previous.order >= decision.order:
                self.settled.add(key)  # a newer (or the same) choice was already synced
                result.counts["superseded"] += 1
            else:
                self.to_send.append(decision)

    def record(self, keys: list[str], status: str, reason: str | None, result: SyncResult) -> None:
        """Take Braze's answer for the targets ``keys``: accepted and refused ones are settled."""
        if status == "accepted":
            self.settled.update(keys)
            self.accepted.extend(_applied(self.plan.decisions[k]) for k in keys)
            result.counts["accepted"] += len(keys)
        elif status == "rejected":
            self.settled.update(keys)
            result.counts["rejected"] += len(keys)
            for key in keys:
                decision = self.plan.decisions[key]
                log.warning("Braze refused %s: %s", _describe(decision), reason)
                result.refused.append((key, f"event {decision.event_id}", f"{_describe(decision)}: {reason}"))
        else:
            result.counts["not_applied"] += len(keys)

    def settled_events(self, events: list[KetchEvent]) -> tuple[list[int], dict[str, list[int]]]:
        """Events all of whose targets are settled, and events with nothing to send, by reason."""
        synced: list[int] = []
        skipped: dict[str, list[int]] = defaultdict(list)
        for event in events:
            targets = self.plan.event_targets.get(event.stored_id, set())
            if not targets:
                skipped[self.plan.event_skip_reasons.get(event.stored_id, "nothing to send")].append(event.stored_id)
            elif targets <= self.settled:
                synced.append(event.stored_id)
        return synced, skipped


def _applied(decision: Decision) -> AppliedTarget:
    return AppliedTarget(decision.target.fingerprint, decision.state, decision.submitted_at, decision.event_id)


def _describe(decision: Decision) -> str:
    target = decision.target
    what = f"group {target.group_id}" if target.kind == GROUP else "global email state"
    return f"{decision.state} for {mask_identifier(target.identifier)} ({what}, Ketch event {decision.event_id})"
