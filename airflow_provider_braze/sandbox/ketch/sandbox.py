"""``KetchSandbox``: a local Ketch for tests, demos and benchmarks.

It plays both of Ketch's roles towards the provider:

- the *source* of preference changes: it sends forwarder webhooks (subscription topic and control
  changes, consent and the four rights requests) to the provider's receiver, with Ketch's bearer
  token and Ketch's 3 tries, and random or scripted streams of changes delivered out of order and
  with duplicates, with the end state they must lead to;
- the *server* the provider and browsers talk to: the Web API (``/web/v2``), and the callbacks where
  rights request status events are posted back.

Example::

    with KetchSandbox(receiver_url, token="...") as ketch:
        ketch.send_subscription_change("ada@example.com", "newsletter", "email", "granted")
        stream = ketch.random_preference_stream(200, n_identities=20, seed=7, duplicate_rate=0.1)
        ketch.deliver(stream, concurrency=4)
        assert ketch.preference_state() == stream.expected_state()

Everything the sandbox sends updates its own state as Ketch's would (latest ``submittedTimestamp``
wins), whatever the receiver answered: the user made the change in Ketch either way.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_braze.ketch.models import Identity
from airflow_provider_braze.sandbox.ketch import streams, webhooks
from airflow_provider_braze.sandbox.ketch.app import create_app
from airflow_provider_braze.sandbox.ketch.callback_recorder import CallbackRecorder, RecordedCallback
from airflow_provider_braze.sandbox.ketch.delivery import Delivery, DeliveryRetry, WebhookSender
from airflow_provider_braze.sandbox.ketch.preferences import PreferenceStore
from airflow_provider_braze.sandbox.ketch.sending import KetchWebhooks
from airflow_provider_braze.sandbox.ketch.server import UvicornThread

DEFAULT_ORGANIZATION = "sandbox"
#: Most deliveries kept for inspection; older ones are forgotten (a benchmark may send millions).
MAX_KEPT_DELIVERIES = 100_000


def _identity_map(identities: Iterable[Identity]) -> dict[str, str]:
    return {i.identity_space: i.identity_value for i in identities}


class KetchSandbox(KetchWebhooks):
    """A Ketch emulator for one organization, serving on ``http://127.0.0.1:<port>``.

    The ``send_*`` methods, the stream planners and :meth:`deliver` come from
    :class:`~airflow_provider_braze.sandbox.ketch.sending.KetchWebhooks`.

    :param receiver_url: the provider's webhook URL (e.g. ``http://127.0.0.1:8085/ketch/webhook``);
        may be set later with :meth:`configure_receiver`. Needed only to send webhooks.
    :param token: the bearer token Ketch sends to the receiver (a secret: never logged).
    :param organization: the Ketch organization code (``metadata.tenant``).
    :param property_code: ``request.property`` of the webhooks.
    :param environment: ``request.environment`` of the webhooks.
    :param callback_token: the bearer token rights request callbacks must carry; random when omitted.
    :param port: TCP port on 127.0.0.1; 0 picks a free one.
    :param retry: how webhooks are retried (default: 3 tries, 0.2 s then 0.4 s apart).
    :param timeout: seconds per webhook try.
    :param identity_space: identity space of identities given as bare strings.
    :param legacy_topic_shape: send topics in the older (2023-03/04) shape by default.
    :param forward_web_updates: Web API updates of this organization are also sent as webhooks.
    :param callback_base_url: base of the callback URLs put in rights requests; :attr:`url` by default.
    """

    def __init__(
        self,
        receiver_url: str | None = None,
        token: str | None = None,
        *,
        organization: str = DEFAULT_ORGANIZATION,
        property_code: str = "website",
        environment: str = "production",
        callback_token: str | None = None,
        port: int = 0,
        retry: DeliveryRetry | None = None,
        timeout: float = 10.0,
        identity_space: str = "email",
        legacy_topic_shape: bool = False,
        forward_web_updates: bool = True,
        callback_base_url: str | None = None,
    ) -> None:
        self.origin = webhooks.Origin(organization, property_code, environment)
        self.identity_space = identity_space
        self.legacy_topic_shape = legacy_topic_shape
        self.forward_web_updates = forward_web_updates
        self.callback_base_url = callback_base_url.rstrip("/") if callback_base_url else None
        self.preferences = PreferenceStore()
        self.callback_recorder = CallbackRecorder(callback_token or secrets.token_urlsafe(24))
        self._retry = retry or DeliveryRetry()
        self._timeout = timeout
        self._sender: WebhookSender | None = None
        if receiver_url is not None:
            self.configure_receiver(receiver_url, token)
        self._deliveries: deque[Delivery] = deque(maxlen=MAX_KEPT_DELIVERIES)
        self._lock = threading.Lock()
        self._last_timestamp = 0
        self.app = create_app(self)
        self._server = UvicornThread(self.app, port, name="ketch-sandbox")

    def __repr__(self) -> str:
        url = self._server.url if self._server.running else "not running"
        return f"KetchSandbox(organization={self.organization!r}, url={url!r}, receiver={self.receiver_url!r})"

    # --- lifecycle --------------------------------------------------------------------------------

    @property
    def organization(self) -> str:
        return self.origin.tenant

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> KetchSandbox:
        """Serve the Web API, the callbacks and ``/_sandbox/*`` in a background thread."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the connections to the receiver."""
        self._server.stop()
        if self._sender is not None:
            self._sender.close()

    def __enter__(self) -> KetchSandbox:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # --- configuration ----------------------------------------------------------------------------

    @property
    def receiver_url(self) -> str | None:
        return self._sender.url if self._sender is not None else None

    def configure_receiver(self, url: str, token: str | None, *, retry: DeliveryRetry | None = None) -> None:
        """Send webhooks to ``url`` with ``Authorization: Bearer <token>`` from now on."""
        if token is None:
            raise ValueError("a bearer token is required with a receiver URL")
        if self._sender is not None:
            self._sender.close()
        self._retry = retry or self._retry
        self._sender = WebhookSender(url, token, retry=self._retry, timeout=self._timeout)

    def next_timestamp(self) -> int:
        """Now in unix seconds, strictly increasing across calls, so two changes never tie.

        Many changes within one second therefore run ahead of the clock by a few seconds.
        """
        with self._lock:
            self._last_timestamp = max(int(time.time()), self._last_timestamp + 1)
            return self._last_timestamp

    # --- sending webhooks -------------------------------------------------------------------------

    def send(self, body: Mapping[str, Any], *, redelivery: bool = False, apply: bool = True) -> Delivery:
        """POST any body to the receiver (tried up to 3 times) and keep the :class:`Delivery`.

        :param body: a webhook body; an invalid one is sent as is (to test the receiver's refusals).
        :param redelivery: mark it as a planned repeat of a uid already sent.
        :param apply: update the sandbox's own preferences from a valid subscription or consent body.
        """
        if self._sender is None:
            raise RuntimeError("no receiver configured; pass receiver_url and token, or call configure_receiver()")
        if apply:
            self.preferences.apply_webhook(body, self.organization)
        delivery = self._sender.send(body, redelivery=redelivery)
        with self._lock:
            self._deliveries.append(delivery)
        return delivery

    def callback_url(self, request_id: str) -> str:
        """Where status events of a rights request go."""
        return f"{self.callback_base_url or self.url}/callbacks/{request_id}"

    def forwards_web_updates(self, organization: str) -> bool:
        """Whether a Web API update of ``organization`` is also sent to the receiver as a webhook."""
        return self.forward_web_updates and self._sender is not None and organization == self.organization

    # --- what the sandbox holds -------------------------------------------------------------------

    @property
    def deliveries(self) -> list[Delivery]:
        """Webhooks sent since the last reset (the last :data:`MAX_KEPT_DELIVERIES`), in sending order."""
        with self._lock:
            return list(self._deliveries)

    def callbacks(self, request_id: str) -> list[RecordedCallback]:
        """Status events accepted for a rights request, in arrival order."""
        return self.callback_recorder.events(request_id)

    def access_results(self, request_id: str) -> list[Any]:
        """Every result of an access request's events, decoded (JSON documents parsed, PDFs as bytes)."""
        return [doc for event in self.callbacks(request_id) for doc in event.decoded_results()]

    def access_document(self, request_id: str) -> Any:
        """The access request's inline JSON results merged across events (RFC 7396), as Ketch shows them."""
        return self.callback_recorder.access_document(request_id)

    def subscriptions(self, identity: Any, organization: str | None = None) -> dict[str, Any]:
        """What the Web API's ``subscriptions/get`` answers for one identity: ``{"topics", "controls", ...}``."""
        identities = _identity_map(self._identities(identity))
        return self.preferences.subscriptions(organization or self.organization, identities)

    def preference_state(self, organization: str | None = None) -> dict[streams.StateKey, str]:
        """``{(identity value, topic, channel): status}`` of every known subject.

        The same shape as :meth:`~.streams.PreferenceStream.expected_state`, to compare the two.
        """
        state: dict[streams.StateKey, str] = {}
        for profile in self.preferences.snapshot().get(organization or self.organization, []):
            for value in profile["identities"].values():
                for topic, channels in profile["topics"].items():
                    for channel, decision in channels.items():
                        state[(value, topic, channel)] = decision["status"]
        return dict(sorted(state.items()))

    def state(self) -> dict[str, Any]:
        """Everything the sandbox holds, JSON-ready (``GET /_sandbox/state``)."""
        return {
            "organization": self.organization,
            "receiver_url": self.receiver_url,
            "web": self.preferences.snapshot(),
            "webhooks": [d.to_dict() for d in self.deliveries],
            **self.callback_recorder.snapshot(),
        }

    def reset(self) -> None:
        """Forget preferences, sent webhooks and callbacks; keep the configuration."""
        self.preferences.clear()
        self.callback_recorder.clear()
        with self._lock:
            self._deliveries.clear()
