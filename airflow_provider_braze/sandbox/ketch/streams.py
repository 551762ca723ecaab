"""Streams of subscription changes to deliver as webhooks, with the end state they must lead to.

A :class:`PreferenceStream` holds the *changes* users made (each one ``SubscriptionTopicRequest``
about one identity, topic and channel, with its ``submittedTimestamp``) and the *deliveries*: the
order in which the webhooks go out. Deliveries may be shuffled relative to ``submittedTimestamp``
(Ketch retries and parallel workers do that) and may repeat a body with the same ``metadata.uid``
(a Ketch retry after a lost answer); a correct receiver and sync must end in
:meth:`PreferenceStream.expected_state` all the same.

Ground truth: for each ``(identity value, topic, channel)``, the status of the change with the
latest ``submittedTimestamp``. On a tie the change listed later in :attr:`PreferenceStream.changes`
wins; random streams never produce ties (their timestamps strictly increase), and a scripted stream
with ties says so in :meth:`PreferenceStream.has_ties`, because a receiver that breaks ties by arrival
cannot be expected to agree with it.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_braze.ketch.models import Identity

#: ``submittedTimestamp`` of the first change of a random stream unless told: 2025-01-01T00:00:00Z.
DEFAULT_START = 1_735_689_600
DEFAULT_TOPICS = ("newsletter", "promotions", "product_updates")
DEFAULT_CHANNELS = ("email", "sms")
STATUSES = ("granted", "denied")

StateKey = tuple[str, str, str]


@dataclass(frozen=True)
class PreferenceChange:
    """One decision a user made: ``status`` for ``topic`` on ``channel``, at ``submitted_at``."""

    identity: Identity
    topic: str
    channel: str
    status: str
    submitted_at: float

    @property
    def key(self) -> StateKey:
        """``(identity value, topic, channel)``."""
        return self.identity.identity_value, self.topic, self.channel


@dataclass(frozen=True)
class PlannedDelivery:
    """One webhook to send: the body of change number :attr:`change_index`.

    :param redelivery: the same body (same ``metadata.uid``) was planned earlier: a Ketch retry.
    """

    change_index: int
    change: PreferenceChange
    body: dict[str, Any] = field(repr=False, compare=False)
    redelivery: bool = False

    @property
    def uid(self) -> str:
        return self.body["metadata"]["uid"]


@dataclass
class PreferenceStream:
    """Changes in the order users made them (or as scripted) and deliveries in sending order."""

    changes: tuple[PreferenceChange, ...]
    deliveries: tuple[PlannedDelivery, ...]
    seed: int | None = None

    def __len__(self) -> int:
        return len(self.deliveries)

    def __iter__(self) -> Iterator[PlannedDelivery]:
        return iter(self.deliveries)

    def expected_state(self) -> dict[StateKey, str]:
        """``{(identity value, topic, channel): status}`` of the latest change per key (see the module doc)."""
        latest: dict[StateKey, tuple[float, int, str]] = {}
        for index, change in enumerate(self.changes):
            candidate = (change.submitted_at, index, change.status)
            if change.key not in latest or candidate[:2] > latest[change.key][:2]:
                latest[change.key] = candidate
        return {key: status for key, (_, _, status) in sorted(latest.items())}

    def has_ties(self) -> bool:
        """Whether two changes of one key share a ``submittedTimestamp``."""
        seen = Counter((c.key, c.submitted_at) for c in self.changes)
        return any(n > 1 for n in seen.values())

    @property
    def duplicate_uids(self) -> list[str]:
        """uids delivered more than once."""
        return [d.uid for d in self.deliveries if d.redelivery]

    def stale_deliveries(self) -> list[PlannedDelivery]:
        """First deliveries that arrive after a newer change of the same key was delivered.

        A receiver that applied changes in arrival order would get these wrong.
        """
        newest: dict[StateKey, float] = {}
        stale = []
        for delivery in self.deliveries:
            if delivery.redelivery:
                continue
            change = delivery.change
            if change.key in newest and newest[change.key] > change.submitted_at:
                stale.append(delivery)
            newest[change.key] = max(newest.get(change.key, change.submitted_at), change.submitted_at)
        return stale

    def is_out_of_order(self) -> bool:
        """Whether first deliveries are not in ``submittedTimestamp`` order."""
        times = [d.change.submitted_at for d in self.deliveries if not d.redelivery]
        return any(a > b for a, b in itertools.pairwise(times))

    def summary(self) -> dict[str, Any]:
        """Counts for logs and the CLI."""
        return {
            "changes": len(self.changes),
            "deliveries": len(self.deliveries),
            "redeliveries": len(self.duplicate_uids),
            "identities": len({c.identity.identity_value for c in self.changes}),
            "stale_deliveries": len(self.stale_deliveries()),
            "expected_keys": len(self.expected_state()),
        }


BodyBuilder = Callable[[PreferenceChange], dict[str, Any]]


def plan(
    changes: Sequence[PreferenceChange],
    body_for: BodyBuilder,
    *,
    order: Sequence[int] | None = None,
    redeliver: Sequence[int] = (),
    seed: int | None = None,
) -> PreferenceStream:
    """A scripted stream: deliver ``changes`` in ``order`` (indexes; as listed when omitted), then repeat some.

    :param changes: the changes; their list order is the tie-break of :meth:`PreferenceStream.expected_state`.
    :param body_for: builds the webhook body of a change (with a fresh uid).
    :param order: the delivery order as indexes into ``changes``, each exactly once.
    :param redeliver: indexes of changes whose body is sent once more, at the end, in this order.
    """
    order = list(range(len(changes))) if order is None else list(order)
    if sorted(order) != list(range(len(changes))):
        raise ValueError("order must list every change index exactly once")
    bodies = [body_for(change) for change in changes]
    deliveries = [PlannedDelivery(i, changes[i], bodies[i]) for i in order]
    deliveries += [PlannedDelivery(i, changes[i], bodies[i], redelivery=True) for i in redeliver]
    return PreferenceStream(tuple(changes), tuple(deliveries), seed)


def random_changes(
    n_changes: int,
    identities: Sequence[Identity],
    topics: Sequence[str],
    channels: Sequence[str],
    rng: random.Random,
    *,
    start: int = DEFAULT_START,
    max_gap: int = 90,
) -> list[PreferenceChange]:
    """``n_changes`` random decisions in chronological order, one second or more apart (never a tie)."""
    if n_changes < 0:
        raise ValueError("n_changes must be >= 0")
    if not identities or not topics or not channels:
        raise ValueError("identities, topics and channels must not be empty")
    changes = []
    moment = start
    for _ in range(n_changes):
        changes.append(
            PreferenceChange(
                rng.choice(identities), rng.choice(topics), rng.choice(channels), rng.choice(STATUSES), moment
            )
        )
        moment += rng.randint(1, max_gap)
    return changes


def _force_a_stale_delivery(order: list[int], changes: Sequence[PreferenceChange]) -> None:
    """Swap two changes of one key so the newer goes first, when shuffling left none that way."""
    first_seen: dict[StateKey, int] = {}
    for position, index in enumerate(order):
        key = changes[index].key
        if key in first_seen:
            other = first_seen[key]
            if changes[order[other]].submitted_at < changes[index].submitted_at:
                order[other], order[position] = order[position], order[other]
            return
        first_seen[key] = position


def plan_random(
    n_changes: int,
    identities: Sequence[Identity],
    body_for: BodyBuilder,
    *,
    topics: Sequence[str] = DEFAULT_TOPICS,
    channels: Sequence[str] = DEFAULT_CHANNELS,
    seed: int | None = None,
    duplicate_rate: float = 0.0,
    out_of_order: bool = True,
    start: int = DEFAULT_START,
) -> PreferenceStream:
    """A random stream (see :meth:`KetchSandbox.random_preference_stream`); same seed, same changes and order.

    With ``out_of_order`` the deliveries are shuffled, and if no change then arrives after a newer one of
    the same key while some key has two changes, two are swapped so that one does (and the first two
    when the shuffle left every delivery in order). Each redelivery
    (``round(n_changes * duplicate_rate)`` of them, of distinct changes) goes at a random place after
    its first delivery.
    """
    if not 0.0 <= duplicate_rate <= 1.0:
        raise ValueError("duplicate_rate must be between 0 and 1")
    rng = random.Random(seed)
    changes = random_changes(n_changes, identities, topics, channels, rng, start=start)
    order = list(range(n_changes))
    if out_of_order:
        rng.shuffle(order)
        probe = PreferenceStream(tuple(changes), tuple(PlannedDelivery(i, changes[i], {}) for i in order))
        if not probe.stale_deliveries():
            _force_a_stale_delivery(order, changes)
        if n_changes > 1 and order == sorted(order):
            order[0], order[1] = order[1], order[0]
    bodies = [body_for(change) for change in changes]
    deliveries = [PlannedDelivery(i, changes[i], bodies[i]) for i in order]
    for index in rng.sample(range(n_changes), round(n_changes * duplicate_rate)):
        after = next(p for p, d in enumerate(deliveries) if d.change_index == index)
        repeat = PlannedDelivery(index, changes[index], bodies[index], redelivery=True)
        deliveries.insert(rng.randint(after + 1, len(deliveries)), repeat)
    return PreferenceStream(tuple(changes), tuple(deliveries), seed)
