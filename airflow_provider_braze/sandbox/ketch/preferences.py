"""What the emulated Ketch knows about each data subject: topics, controls and consent, per organization.

A profile is found by any of its identities (``identitySpace`` + value). Identities named together (in
one web API call or one webhook) are linked to one profile: the profile of the first identity already
known, in the order given, or a new one. Profiles are never merged; an identity linked elsewhere before
is moved to that profile.

Every decision keeps the time it was made (``collectedAt`` of a web API call, ``submittedTimestamp`` of
a webhook) and a decision older than the one held is ignored, so the state after a shuffled stream is
its latest-wins ground truth. On equal times the later write wins.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_braze.ketch.events import epoch_seconds
from airflow_provider_braze.ketch.models import (
    ConsentRequest,
    KetchValidationError,
    SubscriptionControlRequest,
    SubscriptionTopicRequest,
    parse_request,
)


@dataclass
class PreferenceDecision:
    """A ``granted``/``denied`` decision and when it was made; ``detail`` is a control's impact or a
    purpose's legal basis."""

    status: str
    at: float
    detail: str | None = None


@dataclass
class Profile:
    """One data subject of one organization."""

    identities: dict[str, str] = field(default_factory=dict)
    topics: dict[str, dict[str, PreferenceDecision]] = field(default_factory=dict)
    controls: dict[str, PreferenceDecision] = field(default_factory=dict)
    purposes: dict[str, PreferenceDecision] = field(default_factory=dict)
    collected_at: float | None = None

    def touch(self, at: float) -> None:
        self.collected_at = at if self.collected_at is None else max(self.collected_at, at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "identities": dict(self.identities),
            "topics": {t: {c: vars(d) for c, d in chans.items()} for t, chans in self.topics.items()},
            "controls": {c: vars(d) for c, d in self.controls.items()},
            "purposes": {p: vars(d) for p, d in self.purposes.items()},
            "collectedAt": self.collected_at,
        }


def _newer(held: PreferenceDecision | None, at: float) -> bool:
    return held is None or at >= held.at


def _merge(held: dict[str, PreferenceDecision], decisions: Mapping[str, tuple[str, str | None]], at: float) -> int:
    """Keep each ``{code: (status, detail)}`` made at ``at`` unless ``held`` has a newer one; how many were kept."""
    applied = 0
    for code, (status, detail) in decisions.items():
        if _newer(held.get(code), at):
            held[code] = PreferenceDecision(status, at, detail)
            applied += 1
    return applied


class PreferenceStore:
    """Thread-safe profiles of every organization the sandbox has heard of."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._profiles: dict[str, list[Profile]] = {}
        self._index: dict[tuple[str, str, str], Profile] = {}

    def _find(self, org: str, identities: Mapping[str, str]) -> Profile | None:
        for space, value in identities.items():
            profile = self._index.get((org, space, value))
            if profile is not None:
                return profile
        return None

    def _resolve(self, org: str, identities: Mapping[str, str]) -> Profile:
        profile = self._find(org, identities)
        if profile is None:
            profile = Profile()
            self._profiles.setdefault(org, []).append(profile)
        for space, value in identities.items():
            previous = self._index.get((org, space, value))
            if previous is not None and previous is not profile:
                previous.identities.pop(space, None)
            self._index[(org, space, value)] = profile
            profile.identities[space] = value
        return profile

    def _record(self, org: str, identities: Mapping[str, str], at: float, decide: Callable[[Profile], int]) -> int:
        """Find or link the profile and let ``decide`` change it, under the lock; returns what ``decide`` counted.

        :param at: when the decisions were made; the profile's ``collectedAt`` moves up to it.
        """
        with self._lock:
            profile = self._resolve(org, identities)
            applied = decide(profile)
            profile.touch(at)
        return applied

    def set_topics(
        self, org: str, identities: Mapping[str, str], topics: Mapping[str, Mapping[str, str]], at: float
    ) -> int:
        """Apply ``{topic: {channel: status}}`` made at ``at``; returns how many decisions took effect."""

        def decide(profile: Profile) -> int:
            return sum(
                _merge(profile.topics.setdefault(topic, {}), {c: (s, None) for c, s in channels.items()}, at)
                for topic, channels in topics.items()
            )

        return self._record(org, identities, at, decide)

    def set_controls(
        self, org: str, identities: Mapping[str, str], controls: Mapping[str, tuple[str, str | None]], at: float
    ) -> int:
        """Apply ``{control: (status, impact)}`` made at ``at``; returns how many took effect."""
        return self._record(org, identities, at, lambda profile: _merge(profile.controls, controls, at))

    def set_purposes(
        self, org: str, identities: Mapping[str, str], purposes: Mapping[str, tuple[str, str | None]], at: float
    ) -> int:
        """Apply consent ``{purpose: (status, legal basis)}`` given at ``at``; returns how many took effect."""
        return self._record(org, identities, at, lambda profile: _merge(profile.purposes, purposes, at))

    def apply_webhook(self, body: Mapping[str, Any], default_org: str) -> None:
        """Apply what a subscription topic, control or consent webhook says; other or invalid bodies change nothing.

        :param default_org: the organization when the body has no ``metadata.tenant``.
        """
        try:
            message = parse_request(body)
        except KetchValidationError:
            return
        org = message.metadata.tenant or default_org
        ids = {i.identity_space: i.identity_value for i in message.request.identities}
        if isinstance(message, SubscriptionTopicRequest):
            at = epoch_seconds(message.request.submitted_timestamp) or time.time()
            topics = {t: {c: d.status for c, d in chans.items()} for t, chans in message.request.topics.items()}
            self.set_topics(org, ids, topics, at)
        elif isinstance(message, SubscriptionControlRequest):
            at = epoch_seconds(message.request.submitted_timestamp) or time.time()
            controls = {code: (d.status, d.impact) for code, d in message.request.controls.items()}
            self.set_controls(org, ids, controls, at)
        elif isinstance(message, ConsentRequest):
            at = epoch_seconds(message.request.collected_at) or time.time()
            legal = message.request.legal_basis
            purposes = {code: (status, legal.get(code)) for code, status in message.request.purposes.items()}
            self.set_purposes(org, ids, purposes, at)

    def subscriptions(self, org: str, identities: Mapping[str, str]) -> dict[str, Any]:
        """``{"topics": {topic: {channel: {"status"}}}, "controls": {...}, "collectedAt"}`` (empty when unknown)."""
        with self._lock:
            profile = self._find(org, identities)
            if profile is None:
                return {"topics": {}, "controls": {}}
            controls = {}
            for code, decision in profile.controls.items():
                controls[code] = {"status": decision.status, **({"impact": decision.detail} if decision.detail else {})}
            topics = {t: {c: {"status": d.status} for c, d in chans.items()} for t, chans in profile.topics.items()}
            answer: dict[str, Any] = {"topics": topics, "controls": controls}
            if profile.collected_at is not None:
                answer["collectedAt"] = int(profile.collected_at)
            return answer

    def consent(self, org: str, identities: Mapping[str, str]) -> dict[str, Any] | None:
        """``{"purposes": {code: {"allowed": "true"|"false", "legalBasisCode"}}}``, ``None`` when nothing is known."""
        with self._lock:
            profile = self._find(org, identities)
            if profile is None or not profile.purposes:
                return None
            purposes = {}
            for code, decision in profile.purposes.items():
                purposes[code] = {"allowed": "true" if decision.status == "granted" else "false"}
                if decision.detail:
                    purposes[code]["legalBasisCode"] = decision.detail
            return {"purposes": purposes}

    def topic_status(self, org: str, space: str, value: str) -> dict[tuple[str, str], str]:
        """``{(topic, channel): status}`` of one identity (empty when unknown)."""
        with self._lock:
            profile = self._index.get((org, space, value))
            if profile is None:
                return {}
            return {(t, c): d.status for t, chans in profile.topics.items() for c, d in chans.items()}

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every profile, JSON-ready, per organization."""
        with self._lock:
            return {org: [p.to_dict() for p in profiles] for org, profiles in self._profiles.items()}

    def clear(self) -> None:
        with self._lock:
            self._profiles.clear()
            self._index.clear()
