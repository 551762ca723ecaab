"""Planning a Ketch-to-Braze preference sync: which Braze state each change sets, collapsed.

Ketch reports decisions per identity, topic and contact method ("channel"); Braze keeps a state per
user and subscription group, and a global email state. This module, with no I/O, turns a run's
pending events into one :class:`Decision` per Braze target:

* each identity is mapped to a Braze identifier by its identity space (``email`` -> ``emails``, a
  phone space -> ``phones`` in E.164, an id space -> ``external_ids``); hashed identities (``md5``,
  ``sha1``) cannot be sent and are skipped, never guessed;
* each ``topic x channel`` is mapped to a ``subscription_group_id``; an unmapped pair is skipped; a
  decision that named no contact method (channel :data:`~airflow_provider_braze.ketch.models.ALL_CHANNELS`,
  from Ketch's older shapes) sets every channel mapped for its topic;
* a global control ("unsubscribe from all") sets the global email state of email identities
  (``external_ids`` through ``email_subscribe``);
* changes are collapsed per target: the latest ``submitted_at`` wins, ties broken by event id, so
  events arriving out of order or twice still end in each user's latest choice.

Every skipped change is counted once, by reason. Targets are keyed by a SHA-256 fingerprint so that the state store
can remember what was synced without holding emails or phone numbers.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from airflow_provider_braze.ketch.events import KetchEvent
from airflow_provider_braze.ketch.identities import normalise_identifier
from airflow_provider_braze.ketch.models import ALL_CHANNELS

#: Braze identifier kinds, as named in ``/v2/subscription/status/set`` entries.
IDENTIFIER_KINDS = ("emails", "phones", "external_ids")
#: Ketch decisions and the Braze states they set.
STATES = {"granted": "subscribed", "denied": "unsubscribed"}
#: Channels (Ketch contact methods) that are email; every other channel is addressed by phone.
EMAIL_CHANNELS = frozenset({"email"})
GROUP, GLOBAL_EMAIL = "group", "global_email"


@dataclass(frozen=True)
class SyncMapping:
    """How Ketch's vocabulary maps onto Braze's.

    :param subscription_groups: ``{topic: {channel: subscription_group_id}}``.
    :param identity_spaces: ``{Ketch identity space: "emails" | "phones" | "external_ids"}``.
    :param unsubscribe_all_controls: Ketch control codes meaning "unsubscribe from all"; their
        ``denied`` unsubscribes the global email state, ``granted`` subscribes it again.
    """

    subscription_groups: Mapping[str, Mapping[str, str]]
    identity_spaces: Mapping[str, str] = field(default_factory=lambda: {"email": "emails"})
    unsubscribe_all_controls: frozenset[str] = frozenset({"global_subscription", "global_unsubscribe"})

    def __post_init__(self) -> None:
        bad = {space: kind for space, kind in self.identity_spaces.items() if kind not in IDENTIFIER_KINDS}
        if bad:
            raise ValueError(f"identity_spaces values must be one of {', '.join(IDENTIFIER_KINDS)}; got {bad}")
        if not isinstance(self.subscription_groups, Mapping):
            raise ValueError("subscription_groups must map topic -> {channel: subscription_group_id}.")
        for topic, channels in self.subscription_groups.items():
            if not isinstance(channels, Mapping) or not all(isinstance(g, str) and g for g in channels.values()):
                raise ValueError(
                    f"subscription_groups[{topic!r}] must map each channel to a subscription_group_id string."
                )


@dataclass(frozen=True)
class Target:
    """One piece of Braze state: a user's subscription-group state, or their global email state.

    :param kind: ``group`` or ``global_email``.
    :param identifier_kind: ``emails``, ``phones`` or ``external_ids``.
    :param identifier: the normalised identifier.
    :param group_id: the subscription group (``None`` for the global email state).
    """

    kind: str
    identifier_kind: str
    identifier: str
    group_id: str | None = None

    @property
    def fingerprint(self) -> str:
        """A stable key that does not reveal the identifier (the state store keeps this)."""
        raw = "\x1f".join((self.kind, self.identifier_kind, self.identifier, self.group_id or ""))
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class Decision:
    """The state a target ends in after this run's events, and the events that spoke about it.

    :param target: the Braze state concerned.
    :param state: ``subscribed`` or ``unsubscribed``.
    :param submitted_at: when the user made the winning choice.
    :param event_id: the event carrying the winning choice.
    :param events: every event of the run with a change for this target (the winner and the
        changes it supersedes): all of them are settled when the decision is.
    """

    target: Target
    state: str
    submitted_at: float
    event_id: int
    events: set[int] = field(default_factory=set)

    @property
    def order(self) -> tuple[float, int]:
        return (self.submitted_at, self.event_id)


@dataclass
class SyncPlan:
    """The outcome of planning: decisions to send, and what was skipped and why.

    :param decisions: one per target fingerprint.
    :param skipped: count of changes skipped, by reason.
    :param event_targets: for each event, the fingerprints of its targets (empty: nothing to send).
    :param event_skip_reasons: for each event, why its first skipped change was skipped.
    :param changes: changes read from the events.
    """

    decisions: dict[str, Decision] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    event_targets: dict[int, set[str]] = field(default_factory=dict)
    event_skip_reasons: dict[int, str] = field(default_factory=dict)
    changes: int = 0

    def skip(self, event: KetchEvent, reason: str) -> None:
        self.skipped[reason] += 1
        self.event_skip_reasons.setdefault(event.stored_id, reason)

    def offer(self, target: Target, state: str, event: KetchEvent) -> None:
        key = target.fingerprint
        self.event_targets.setdefault(event.stored_id, set()).add(key)
        current = self.decisions.get(key)
        candidate = (event.submitted_at, event.stored_id)
        if current is None:
            self.decisions[key] = Decision(target, state, event.submitted_at, event.stored_id, {event.stored_id})
            return
        current.events.add(event.stored_id)
        if candidate > current.order:
            current.state, current.submitted_at, current.event_id = state, event.submitted_at, event.stored_id


def plan_sync(events: Iterable[KetchEvent], mapping: SyncMapping) -> SyncPlan:
    """Collapse a run's pending events into one decision per Braze target.

    :param events: pending subscription and control events (their ``event_id`` set).
    :param mapping: the topic, channel and identity mappings.
    """
    plan = SyncPlan()
    for event in events:
        plan.event_targets.setdefault(event.stored_id, set())
        identifiers, problems = _identifiers(event, mapping)
        for change in event.subscription_changes:
            plan.changes += 1
            groups = _groups_of(change.topic, change.channel, mapping)
            if not groups:
                plan.skip(event, f"topic {change.topic!r} x channel {change.channel!r} not in subscription_groups")
                continue
            for channel, group_id in groups:
                usable = [(k, v) for k, v in identifiers if _can_address(k, channel)]
                if not usable:
                    plan.skip(event, _why_no_identifier(identifiers, problems, channel))
                    continue
                for kind, value in usable:
                    plan.offer(Target(GROUP, kind, value, group_id), STATES[change.status], event)
        for control in event.control_changes:
            plan.changes += 1
            if control.control not in mapping.unsubscribe_all_controls:
                plan.skip(event, f"control {control.control!r} is not an unsubscribe-all control")
                continue
            usable = [(k, v) for k, v in identifiers if k != "phones"]
            if not usable:
                plan.skip(event, _why_no_identifier(identifiers, problems, "email"))
                continue
            for kind, value in usable:
                plan.offer(Target(GLOBAL_EMAIL, kind, value), STATES[control.status], event)
    return plan


def _groups_of(topic: str, channel: str, mapping: SyncMapping) -> list[tuple[str, str]]:
    """``(channel, subscription_group_id)`` pairs a topic decision sets: one, or every mapped channel
    of the topic when the decision named no contact method (:data:`ALL_CHANNELS`)."""
    channels = mapping.subscription_groups.get(topic, {})
    if channel == ALL_CHANNELS:
        return sorted(channels.items())
    group_id = channels.get(channel)
    return [] if group_id is None else [(channel, group_id)]


def _identifiers(event: KetchEvent, mapping: SyncMapping) -> tuple[list[tuple[str, str]], list[str]]:
    """The event's identities Braze can use, and why the others cannot be used."""
    found, problems = [], []
    for identity in event.identities:
        kind = mapping.identity_spaces.get(identity.identity_space)
        if kind is None:
            continue
        if identity.identity_format != "raw":
            problems.append(f"identity in {identity.identity_space!r} is hashed ({identity.identity_format})")
            continue
        value = normalise_identifier(kind, identity.identity_value)
        if value is None:
            problems.append(f"identity in {identity.identity_space!r} is not a valid {kind[:-1]}")
            continue
        found.append((kind, value))
    return found, problems


def _can_address(kind: str, channel: str) -> bool:
    # Braze addresses email groups by email or external_id, SMS/WhatsApp groups by phone or external_id.
    if kind == "external_ids":
        return True
    return (kind == "emails") == (channel in EMAIL_CHANNELS)


def _why_no_identifier(identifiers: list[tuple[str, str]], problems: list[str], channel: str) -> str:
    if not identifiers:
        return problems[0] if problems else "no identity in a mapped identity space"
    return f"no identity that can address the {channel!r} channel"
