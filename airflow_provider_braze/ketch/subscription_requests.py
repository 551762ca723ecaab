"""Which Braze endpoint carries each decision of a Ketch preference sync, as the sender's items.

* a subscription-group state: ``/v2/subscription/status/set``, one entry per group and state; Braze
  takes emails, phones and external ids in separate calls, and at most the catalogue's
  ``max_total_items`` identifiers per call, so an entry never lists more;
* the global email state of an email: ``/email/status`` (or ``/email/blocklist``, which also
  unsubscribes, when the sync blocklists on "unsubscribe from all");
* the global email state of an external id: ``email_subscribe`` through ``/users/track``.

Each item's ``ref`` lists the fingerprints of the targets it carries, so the sender's outcome for
the item is the outcome of those targets. Nothing here does I/O.

.. seealso:: https://www.braze.com/docs/api/endpoints/subscription_groups/post_update_user_subscription_group_status_v2
.. seealso:: https://www.braze.com/docs/api/endpoints/email/post_email_subscription_status
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_braze.braze.endpoints import CATALOGUE
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.ketch.sync_plan import GLOBAL_EMAIL, GROUP, Decision

SUBSCRIPTION_STATUS = "v2/subscription/status/set"


@dataclass(frozen=True)
class BrazeRequests:
    """Items for one endpoint, and the fields every request body carries.

    :param endpoint: the catalogue name.
    :param items: the objects to send.
    :param static_body: fields sent in every request (``subscription_state`` for ``/email/status``).
    """

    endpoint: str
    items: list[Item]
    static_body: Mapping[str, Any] | None = field(default=None)


def _identifiers_per_call() -> int:
    limit = CATALOGUE[SUBSCRIPTION_STATUS].max_total_items
    if limit is None:
        raise ValueError(f"the endpoint catalogue sets no identifier cap for {SUBSCRIPTION_STATUS}")
    return limit


#: Identifiers per /v2/subscription/status/set call, from the endpoint catalogue.
IDENTIFIERS_PER_CALL = _identifiers_per_call()


def braze_requests(decisions: list[Decision], *, blocklist_on_unsubscribe_all: bool = False) -> Iterator[BrazeRequests]:
    """The requests that apply ``decisions``, in the order they are sent (empty ones left out).

    :param decisions: the decisions to send (superseded ones already removed).
    :param blocklist_on_unsubscribe_all: send an email's "unsubscribe from all" to ``/email/blocklist``.
    """
    groups = [d for d in decisions if d.target.kind == GROUP]
    global_email = [d for d in decisions if d.target.kind == GLOBAL_EMAIL]
    # Braze takes emails and phones in separate /v2/subscription/status/set calls.
    for kind in ("external_ids", "emails", "phones"):
        yield BrazeRequests(SUBSCRIPTION_STATUS, list(_group_entries(groups, kind)))
    for state in ("unsubscribed", "subscribed"):
        emails = [d for d in global_email if d.target.identifier_kind == "emails" and d.state == state]
        items = [Item("email", d.target.identifier, ref=[d.target.fingerprint]) for d in emails]
        if state == "unsubscribed" and blocklist_on_unsubscribe_all:
            # Blocklisting also unsubscribes; its outcome decides the target's.
            yield BrazeRequests("email/blocklist", items)
        else:
            yield BrazeRequests("email/status", items, {"subscription_state": state})
    ids = [d for d in global_email if d.target.identifier_kind == "external_ids"]
    attributes = [{"external_id": d.target.identifier, "email_subscribe": d.state} for d in ids]
    yield BrazeRequests(
        "users/track", [Item("attributes", a, ref=[d.target.fingerprint]) for a, d in zip(attributes, ids, strict=True)]
    )


def _group_entries(decisions: list[Decision], kind: str) -> Iterator[Item]:
    """One ``subscription_groups`` entry per group and state, of at most one call's identifiers."""
    by_group: dict[tuple[str | None, str], list[Decision]] = defaultdict(list)
    for d in decisions:
        if d.target.identifier_kind == kind:
            by_group[d.target.group_id, d.state].append(d)
    for (group_id, state), members in by_group.items():
        for i in range(0, len(members), IDENTIFIERS_PER_CALL):
            chunk = members[i : i + IDENTIFIERS_PER_CALL]
            entry = {
                "subscription_group_id": group_id,
                "subscription_state": state,
                kind: [d.target.identifier for d in chunk],
            }
            yield Item("subscription_groups", entry, ref=[d.target.fingerprint for d in chunk])
