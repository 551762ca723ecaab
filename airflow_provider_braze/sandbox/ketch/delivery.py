"""Sending webhooks as Ketch does: ``POST`` with ``Authorization: Bearer <token>``, tried up to 3 times.

Ketch's documentation says "the Ketch Platform will try 3 times" (the rest of the sentence is not
public), so a delivery is tried at most :attr:`DeliveryRetry.attempts` times in all, again after any
answer outside 2xx or any connection error, with the same body and therefore the same ``metadata.uid``.

The token never leaves the request headers: it is not logged, not kept on a :class:`Delivery` and not
in any error text (a connection error is recorded by its type only).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_braze.sandbox.ketch.webhooks import masked

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryRetry:
    """How many times a webhook is tried and how long to wait between tries.

    :param attempts: tries in all (Ketch: 3).
    :param delay: seconds before the second try.
    :param backoff: factor applied to the delay after each further try.
    """

    attempts: int = 3
    delay: float = 0.2
    backoff: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.delay < 0 or self.backoff < 1:
            raise ValueError("delay must be >= 0 and backoff >= 1")

    def wait_before(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt`` (1-based; 0 before the first)."""
        return 0.0 if attempt <= 1 else self.delay * self.backoff ** (attempt - 2)


@dataclass(frozen=True)
class Attempt:
    """One try: the HTTP status, or the type of the connection error when there was no answer."""

    status_code: int | None
    error: str | None
    elapsed: float

    def to_dict(self) -> dict[str, Any]:
        return {"status_code": self.status_code, "error": self.error, "elapsed": round(self.elapsed, 4)}


@dataclass
class Delivery:
    """A webhook sent to the receiver, with every try and the last answer.

    :param uid: the body's ``metadata.uid``.
    :param kind: the body's ``kind``.
    :param body: what was sent.
    :param attempts: each try, first one first.
    :param response: the last answer (``None`` when no try got one).
    :param redelivery: sent again on purpose with a uid already delivered (a planned duplicate).
    """

    uid: str
    kind: str
    url: str
    body: dict[str, Any] = field(repr=False)
    attempts: list[Attempt] = field(default_factory=list)
    response: requests.Response | None = field(default=None, repr=False)
    sent_at: float = 0.0
    redelivery: bool = False

    @property
    def status_code(self) -> int | None:
        """Status of the last answer, ``None`` when the receiver never answered."""
        return self.attempts[-1].status_code if self.attempts else None

    @property
    def ok(self) -> bool:
        """Whether the receiver finally answered 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300

    def json(self) -> Any:
        """The last answer's JSON body, or ``None`` (no answer, empty or not JSON)."""
        if self.response is None or not self.response.content:
            return None
        try:
            return self.response.json()
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record for ``/_sandbox/state`` (callback credentials masked)."""
        return {
            "uid": self.uid,
            "kind": self.kind,
            "url": self.url,
            "sent_at": self.sent_at,
            "redelivery": self.redelivery,
            "status_code": self.status_code,
            "ok": self.ok,
            "attempts": [a.to_dict() for a in self.attempts],
            "response": self.json(),
            "body": masked(self.body),
        }


class WebhookSender:
    """POSTs webhook bodies to one receiver URL with a bearer token, retrying as Ketch does.

    Safe to use from many threads: each thread gets its own keep-alive session.

    :param url: the receiver's webhook URL.
    :param token: the bearer token configured in Ketch's webhook settings (kept secret).
    :param retry: the retry policy.
    :param timeout: seconds per try.
    """

    def __init__(self, url: str, token: str, *, retry: DeliveryRetry | None = None, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the receiver URL must be an http(s) URL")
        if not token or not token.strip():
            raise ValueError("a bearer token is required to send webhooks")
        self.url = url
        self.retry = retry or DeliveryRetry()
        self.timeout = timeout
        self._authorization = f"Bearer {token.strip()}"
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WebhookSender(url={self.url!r}, retry={self.retry!r})"

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.mount("http://", HTTPAdapter(pool_maxsize=4, max_retries=0))
            session.mount("https://", HTTPAdapter(pool_maxsize=4, max_retries=0))
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def send(self, body: Mapping[str, Any], *, redelivery: bool = False) -> Delivery:
        """POST one body; returns the :class:`Delivery` after at most ``retry.attempts`` tries."""
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers = {"Authorization": self._authorization, "Content-Type": "application/json"}
        metadata = body.get("metadata") or {}
        delivery = Delivery(
            uid=str(metadata.get("uid", "")),
            kind=str(body.get("kind", "")),
            url=self.url,
            body=dict(body),
            sent_at=time.time(),
            redelivery=redelivery,
        )
        session = self._session()
        for number in range(1, self.retry.attempts + 1):
            time.sleep(self.retry.wait_before(number))
            started = time.monotonic()
            try:
                response = session.post(self.url, data=data, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                delivery.attempts.append(Attempt(None, type(exc).__name__, time.monotonic() - started))
                log.debug("Ketch sandbox: %s %s try %d: %s", delivery.kind, delivery.uid, number, type(exc).__name__)
                continue
            delivery.response = response
            delivery.attempts.append(Attempt(response.status_code, None, time.monotonic() - started))
            log.debug("Ketch sandbox: %s %s try %d: HTTP %d", delivery.kind, delivery.uid, number, response.status_code)
            if 200 <= response.status_code < 300:
                break
        if not delivery.ok:
            tries = len(delivery.attempts)
            log.info("Ketch sandbox: %s %s not accepted after %d tries", delivery.kind, delivery.uid, tries)
        return delivery

    def close(self) -> None:
        """Close every session's pooled connections."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()


@dataclass
class DeliveryReport:
    """What :meth:`KetchSandbox.deliver` did: every :class:`Delivery` in planned order, and the time taken."""

    deliveries: list[Delivery]
    elapsed: float

    @property
    def accepted(self) -> int:
        """Deliveries finally answered 2xx."""
        return sum(d.ok for d in self.deliveries)

    @property
    def failed(self) -> int:
        return len(self.deliveries) - self.accepted

    @property
    def redeliveries(self) -> int:
        return sum(d.redelivery for d in self.deliveries)

    @property
    def retries(self) -> int:
        """Tries beyond the first, over all deliveries."""
        return sum(len(d.attempts) - 1 for d in self.deliveries if d.attempts)

    def status_counts(self) -> dict[str, int]:
        """``{"202": n, "no answer": m}``: final outcome of each delivery."""
        counts: dict[str, int] = {}
        for delivery in self.deliveries:
            name = str(delivery.status_code) if delivery.status_code is not None else "no answer"
            counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items()))

    def summary(self) -> dict[str, Any]:
        return {
            "sent": len(self.deliveries),
            "accepted": self.accepted,
            "failed": self.failed,
            "redeliveries": self.redeliveries,
            "retries": self.retries,
            "statuses": self.status_counts(),
            "elapsed": round(self.elapsed, 3),
        }
