"""What Ketch sends, as methods of :class:`~airflow_provider_braze.sandbox.ketch.sandbox.KetchSandbox`.

One method per webhook kind (``send_subscription_change``, ``send_control``, ``send_consent``,
``send_delete_request``, ``send_access_request``), and streams of subscription changes: plan them with
``random_preference_stream`` or ``preference_stream``, send them with ``deliver``. Every method builds
its body with :mod:`.webhooks` and hands it to ``KetchSandbox.send`` (bearer token, 3 tries, log).

Identities may be given as a bare value (in the sandbox's ``identity_space``, ``email`` by default), an
:class:`~airflow_provider_braze.ketch.models.Identity`, a wire-form dict, or a list of these.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypedDict

from airflow_provider_braze.ketch.models import Callback, Identity
from airflow_provider_braze.sandbox.ketch import streams, webhooks
from airflow_provider_braze.sandbox.ketch.delivery import Delivery, DeliveryReport
from airflow_provider_braze.sandbox.ketch.identities import (
    HashFormat,
    IdentityKind,
    as_identities,
    as_identity,
    make_identities,
)

if TYPE_CHECKING:
    import threading

    from typing_extensions import Unpack  # typing.Unpack is 3.11+

    from airflow_provider_braze.sandbox.ketch.callback_recorder import CallbackRecorder

log = logging.getLogger(__name__)

_PROGRESS_EVERY = 500


class RightsOptions(TypedDict, total=False):
    """What every rights request may be given besides who and about whom.

    :param regulation: ``request.regulation`` (``gdpr`` by default; ``None`` leaves it out).
    :param jurisdiction: ``request.jurisdiction`` (``eu`` by default; ``None`` leaves it out).
    :param submitted_at: unix seconds; :meth:`KetchWebhooks.next_timestamp` when omitted.
    :param due_at: legal deadline, unix seconds (30 days after ``submitted_at`` by default).
    :param uid: ``metadata.uid``, the request id; a fresh UUIDv4 when omitted.
    """

    regulation: str | None
    jurisdiction: str | None
    submitted_at: float | None
    due_at: float | None
    uid: str | None


_RIGHTS_OPTIONS = frozenset(RightsOptions.__annotations__)


class KetchWebhooks:
    """The sending half of the sandbox (mixed into ``KetchSandbox``, which provides the attributes below)."""

    origin: webhooks.Origin
    identity_space: str
    legacy_topic_shape: bool
    callback_recorder: CallbackRecorder
    _lock: threading.Lock
    send: Callable[..., Delivery]  # KetchSandbox.send: POST with the token and 3 tries, keep the Delivery
    next_timestamp: Callable[[], int]
    callback_url: Callable[[str], str]

    def _identities(self, value: Any) -> list[Identity]:
        return as_identities(value, self.identity_space)

    def _stamp(self, at: float | None) -> float:
        """``at`` as given, else the sandbox's next timestamp."""
        return at if at is not None else self.next_timestamp()

    def _send_built(
        self, build: Callable[..., dict[str, Any]], identity: Any, decisions: Any, **fields: Any
    ) -> Delivery:
        """The core of the preference senders: ``build(origin, identities, decisions, **fields)``, then send it.

        :param build: a body builder of :mod:`.webhooks` (``topic_request``, ``control_request``, ``consent_request``).
        :param identity: any identity form (see :meth:`send_subscription_change`).
        :param decisions: the topics, controls or purposes, in the form ``build`` takes.
        """
        return self.send(build(self.origin, self._identities(identity), decisions, **fields))

    def send_subscription_change(
        self,
        identity: Any,
        topic: str,
        channel: str,
        status: str,
        *,
        submitted_at: float | None = None,
        legacy_shape: bool | None = None,
        uid: str | None = None,
    ) -> Delivery:
        """Send a ``SubscriptionTopicRequest``: ``identity`` set ``status`` for ``topic`` on ``channel``.

        :param identity: an email (or a value of ``identity_space``), an :class:`Identity`, a wire-form
            dict, or a list of these.
        :param status: ``granted`` or ``denied``.
        :param submitted_at: unix seconds; :meth:`next_timestamp` when omitted.
        :param legacy_shape: send the older topic shape (default: the sandbox's setting).
        :param uid: ``metadata.uid``; a fresh UUIDv4 when omitted.
        """
        return self.send_subscription_changes(
            identity, {topic: {channel: status}}, submitted_at=submitted_at, legacy_shape=legacy_shape, uid=uid
        )

    def send_subscription_changes(
        self,
        identity: Any,
        topics: Mapping[str, Mapping[str, str]],
        *,
        submitted_at: float | None = None,
        legacy_shape: bool | None = None,
        uid: str | None = None,
    ) -> Delivery:
        """Send one ``SubscriptionTopicRequest`` with several decisions: ``{topic: {channel: status}}``."""
        return self._send_built(
            webhooks.topic_request,
            identity,
            topics,
            submitted_at=self._stamp(submitted_at),
            uid=uid,
            legacy_shape=self.legacy_topic_shape if legacy_shape is None else legacy_shape,
        )

    def send_control(
        self,
        identity: Any,
        control: str,
        status: str,
        *,
        impact: str | None = None,
        submitted_at: float | None = None,
        uid: str | None = None,
    ) -> Delivery:
        """Send a ``SubscriptionControlRequest``, e.g. ``send_control(email, "global_unsubscribe", "denied")``."""
        decisions = {control: (status, impact)}
        return self._send_built(
            webhooks.control_request, identity, decisions, submitted_at=self._stamp(submitted_at), uid=uid
        )

    def send_consent(
        self,
        identity: Any,
        purposes: Mapping[str, str],
        *,
        legal_basis: Mapping[str, str] | None = None,
        regulation: str | None = "gdpr",
        jurisdiction: str | None = "eu",
        collected_at: float | None = None,
        uid: str | None = None,
    ) -> Delivery:
        """Send a ``ConsentRequest``: ``purposes={"analytics": "granted"}``; answered 204 by the receiver."""
        return self._send_built(
            webhooks.consent_request,
            identity,
            purposes,
            collected_at=self._stamp(collected_at),
            legal_basis=legal_basis,
            regulation=regulation,
            jurisdiction=jurisdiction,
            uid=uid,
        )

    def _send_rights(
        self,
        kind: str,
        identities: Any,
        subject_email: str | None,
        subject: Mapping[str, Any] | None,
        options: RightsOptions,
        purposes: Sequence[str] = (),
    ) -> Delivery:
        """The core of the rights senders: subject, uid, callback, body; the uid is registered, then sent."""
        unknown = sorted(set(options) - _RIGHTS_OPTIONS)
        if unknown:
            raise TypeError(
                f"a {kind} takes no argument {unknown[0]!r}; its options are {', '.join(sorted(_RIGHTS_OPTIONS))}"
            )
        ids = self._identities(identities)
        uid = options.get("uid") or webhooks.new_uid()
        if subject is None:
            email = subject_email or next(
                (i.identity_value for i in ids if i.identity_space == "email" and not i.is_hashed), None
            )
            subject = {"email": email} if email else None
        callback = Callback(url=self.callback_url(uid), headers=self.callback_recorder.authorization())
        body = webhooks.rights_request(
            kind,
            self.origin,
            ids,
            [callback],
            subject=subject,
            regulation=options.get("regulation", "gdpr"),
            jurisdiction=options.get("jurisdiction", "eu"),
            submitted_at=self._stamp(options.get("submitted_at")),
            due_at=options.get("due_at"),
            purposes=list(purposes),
            uid=uid,
        )
        # Registered first: a fast provider may call back before its answer reaches us.
        self.callback_recorder.register(uid, kind, ids)
        return self.send(body)

    def send_delete_request(
        self,
        identities: Any,
        subject_email: str | None = None,
        *,
        subject: Mapping[str, Any] | None = None,
        **options: Unpack[RightsOptions],
    ) -> Delivery:
        """Send a ``DeleteRequest`` whose callback points back at this sandbox.

        The request id (for :meth:`callbacks`) is the body's ``metadata.uid``: ``delivery.uid``.

        :param identities: who to erase (see :meth:`send_subscription_change` for the forms).
        :param subject_email: the requester's email; the first raw email identity by default.
        :param subject: the whole ``subject`` object instead (``email``, ``firstName``, ``lastName``...).
        :param options: ``regulation``, ``jurisdiction``, ``submitted_at``, ``due_at``, ``uid``
            (see :class:`RightsOptions`).
        """
        return self._send_rights("DeleteRequest", identities, subject_email, subject, options)

    def send_access_request(
        self,
        identities: Any,
        subject_email: str | None = None,
        *,
        subject: Mapping[str, Any] | None = None,
        **options: Unpack[RightsOptions],
    ) -> Delivery:
        """Send an ``AccessRequest`` whose callback points back at this sandbox (same arguments as a delete)."""
        return self._send_rights("AccessRequest", identities, subject_email, subject, options)

    def send_correction_request(
        self, identities: Any, subject: Mapping[str, Any], **options: Unpack[RightsOptions]
    ) -> Delivery:
        """Send a ``CorrectionRequest``: ``subject`` carries the corrected details (``firstName``...)."""
        return self._send_rights("CorrectionRequest", identities, None, subject, options)

    def send_restrict_processing_request(
        self,
        identities: Any,
        purposes: Sequence[str] = ("marketing",),
        subject_email: str | None = None,
        **options: Unpack[RightsOptions],
    ) -> Delivery:
        """Send a ``RestrictProcessingRequest`` for ``purposes`` (same other arguments as a delete)."""
        return self._send_rights("RestrictProcessingRequest", identities, subject_email, None, options, purposes)

    # --- streams ----------------------------------------------------------------------------------

    def _topic_body_builder(self, legacy_shape: bool | None) -> Callable[[streams.PreferenceChange], dict[str, Any]]:
        legacy = self.legacy_topic_shape if legacy_shape is None else legacy_shape

        def body_for(change: streams.PreferenceChange) -> dict[str, Any]:
            return webhooks.topic_request(
                self.origin,
                [change.identity],
                {change.topic: {change.channel: change.status}},
                submitted_at=change.submitted_at,
                legacy_shape=legacy,
            )

        return body_for

    def random_preference_stream(
        self,
        n_changes: int,
        identities: Sequence[Any] | None = None,
        *,
        n_identities: int = 10,
        identity_kind: IdentityKind = "email",
        identity_space: str | None = None,
        hash_format: HashFormat | None = None,
        topics: Sequence[str] = streams.DEFAULT_TOPICS,
        channels: Sequence[str] = streams.DEFAULT_CHANNELS,
        seed: int | None = None,
        duplicate_rate: float = 0.0,
        out_of_order: bool = True,
        start: int = streams.DEFAULT_START,
        legacy_shape: bool | None = None,
    ) -> streams.PreferenceStream:
        """Plan ``n_changes`` random topic decisions as webhooks (nothing is sent until :meth:`deliver`).

        The same seed gives the same changes and delivery order; uids are fresh every time.

        :param identities: who changes preferences (any identity form); else ``n_identities`` made-up
            ones of ``identity_kind`` (``email``: ``user1@example.com``..., ``external_id``, ``phone``
            in E.164), in ``identity_space`` (the kind's name by default), hashed with ``hash_format``.
        :param duplicate_rate: fraction of changes delivered a second time with the same uid.
        :param out_of_order: shuffle deliveries relative to ``submittedTimestamp``, guaranteeing at least
            one change that arrives after a newer change of the same identity, topic and channel
            whenever two such changes exist.
        :param start: ``submittedTimestamp`` of the first change; later ones are 1 to 90 s apart.
        """
        people = (
            [as_identity(i, self.identity_space) for i in identities]
            if identities is not None
            else make_identities(n_identities, identity_kind, space=identity_space, hash_format=hash_format)
        )
        return streams.plan_random(
            n_changes,
            people,
            self._topic_body_builder(legacy_shape),
            topics=topics,
            channels=channels,
            seed=seed,
            duplicate_rate=duplicate_rate,
            out_of_order=out_of_order,
            start=start,
        )

    def preference_stream(
        self,
        changes: Sequence[streams.PreferenceChange | tuple[Any, str, str, str, float]],
        *,
        order: Sequence[int] | None = None,
        redeliver: Sequence[int] = (),
        legacy_shape: bool | None = None,
    ) -> streams.PreferenceStream:
        """Plan a scripted stream: ``changes`` as ``(identity, topic, channel, status, submitted_at)``.

        :param order: delivery order as indexes into ``changes`` (as listed by default).
        :param redeliver: indexes of changes sent once more at the end, with the same uid.
        """
        planned = [
            c
            if isinstance(c, streams.PreferenceChange)
            else streams.PreferenceChange(as_identity(c[0], self.identity_space), c[1], c[2], c[3], c[4])
            for c in changes
        ]
        return streams.plan(planned, self._topic_body_builder(legacy_shape), order=order, redeliver=redeliver)

    def deliver(
        self, stream: streams.PreferenceStream | Iterable[streams.PlannedDelivery], *, concurrency: int = 1
    ) -> DeliveryReport:
        """Send a stream's deliveries in its order (``concurrency`` > 1: that many at a time).

        :returns: every :class:`Delivery` in planned order, with counts.
        """
        planned = list(stream)
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        started = time.monotonic()
        done = 0

        def send_one(item: streams.PlannedDelivery) -> Delivery:
            nonlocal done
            delivery = self.send(item.body, redelivery=item.redelivery)
            with self._lock:
                done += 1
                count = done
            if count % _PROGRESS_EVERY == 0:
                rate = count / max(time.monotonic() - started, 1e-9)
                left = (len(planned) - count) / rate
                log.info(
                    "Ketch sandbox: %d/%d webhooks sent (%.0f/s, about %.0f s left)", count, len(planned), rate, left
                )
            return delivery

        if concurrency == 1:
            results = [send_one(item) for item in planned]
        else:
            with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ketch-sandbox-send") as pool:
                results = list(pool.map(send_one, planned))
        report = DeliveryReport(results, time.monotonic() - started)
        log.info("Ketch sandbox: stream delivered: %s", report.summary())
        return report
