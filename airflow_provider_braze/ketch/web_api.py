"""A client of Ketch's public web API (no key): read and record one user's subscription choices.

Ketch's web API works one identity at a time and has no list or "changed since" call, so besides
single reads and writes it only allows reconciling a known list of users at a polite, throttled pace
(:meth:`KetchWebAPIClient.reconcile`); webhooks remain the change feed. No Airflow imports here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from airflow_provider_braze import DISTRIBUTION
from airflow_provider_braze.ketch.events import epoch_seconds
from airflow_provider_braze.outbound.pacing import Pace
from airflow_provider_braze.outbound.policy import HttpPolicy, HttpStatusError, retry_after_seconds

log = logging.getLogger(__name__)

#: Ketch's global web API.
DEFAULT_WEB_API_URL = "https://global.ketchcdn.com/web/v2"
_SUBSCRIPTION_STATUSES = ("granted", "denied")
_PROGRESS_EVERY = 100
_PROGRESS_SECONDS = 30.0


class KetchWebAPIError(HttpStatusError):
    """Ketch's web API answered with an error status; the text is Ketch's message, never the request sent.

    :param status_code: the HTTP status.
    :param message: Ketch's message, or the reason phrase.
    :param retry_after: seconds Ketch asked to wait (``Retry-After``), if it said.
    """

    status_code: int

    def __init__(self, status_code: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(
            f"Ketch web API answered HTTP {status_code}: {message}", status_code=status_code, retry_after=retry_after
        )
        self.message = message

    @property
    def is_retryable(self) -> bool:
        return self.retryable


@dataclass(frozen=True)
class KetchSubscriptionState:
    """What Ketch holds for one identity: ``topics`` and ``controls`` as in its web API.

    :param identities: the identities asked about, ``{identity_space: value}`` (personal data).
    :param topics: ``{topic: {channel: {"status": "granted" | "denied"}}}``.
    :param controls: ``{control: {"status": ...}}``, e.g. ``global_unsubscribe``.
    :param collected_at: when Ketch collected them, unix seconds, if it said.
    :param error: why this identity could not be read (Ketch refused it with a 4xx other than 429),
        else ``None``.
    """

    identities: dict[str, str] = field(repr=False)
    topics: dict[str, Any] = field(default_factory=dict)
    controls: dict[str, Any] = field(default_factory=dict)
    collected_at: float | None = None
    error: str | None = None


def _error_message(response: requests.Response) -> str:
    """Ketch's own error message when it sent one, else the reason phrase; never the body as such."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        detail = body.get("error") if isinstance(body.get("error"), dict) else body
        message = detail.get("message") if isinstance(detail, dict) else None
        if isinstance(message, str) and message.strip():
            return message.strip()[:200]
    return response.reason or "error"


class KetchWebAPIClient:
    """Ketch's web API for one organization, throttled to ``qps`` requests per second.

    :param base_url: the web API base URL (``https://global.ketchcdn.com/web/v2``).
    :param organization: the organization code every path carries.
    :param property_code: the Ketch property sent by default.
    :param environment: the Ketch environment sent by default.
    :param timeout: read timeout per attempt, seconds.
    :param max_attempts: attempts per request (429 waits for ``Retry-After``; 5xx and connection
        errors back off exponentially with jitter, as the shared
        :class:`~airflow_provider_braze.outbound.policy.HttpPolicy` does).
    :param qps: requests per second, no bursts.
    :param user_agent: ``User-Agent`` header.
    :param sleep: how to wait; replaced in tests.
    :param clock: a monotonic clock for throttling and progress; replaced in tests.
    """

    def __init__(
        self,
        base_url: str,
        organization: str,
        *,
        property_code: str | None = None,
        environment: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 5,
        qps: float = 5.0,
        user_agent: str = DISTRIBUTION,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.organization = organization
        self.property_code = property_code
        self.environment = environment
        self.timeout = timeout
        self.max_attempts = max_attempts
        # Ketch's web API is public and unkeyed: politeness over speed, so short backoffs (up to 30 s).
        self.policy = HttpPolicy(
            timeout=(10.0, timeout), max_attempts=max_attempts, backoff_base=0.5, backoff_max=30.0, reset_jitter=0.0
        )
        self._sleep = sleep
        self._clock = clock
        self.pace = Pace(qps, clock=clock, sleep=sleep)
        self.session = requests.Session()
        self.session.headers.update(
            {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": user_agent}
        )

    def close(self) -> None:
        self.session.close()

    def post(self, operation: str, body: Mapping[str, Any], *, attempts: int | None = None) -> dict[str, Any]:
        """POST ``{base}/{operation}``; retries 429 (after ``Retry-After``), 5xx and connection errors.

        :param operation: the path after the base URL.
        :param body: the JSON body.
        :param attempts: attempts for this call (default ``max_attempts``).
        """
        url = f"{self.base_url}/{operation}"
        policy = self.policy if attempts is None else replace(self.policy, max_attempts=attempts)

        def attempt() -> dict[str, Any]:
            self.pace.acquire()
            response = self.session.post(url, json=dict(body), timeout=policy.timeout)
            if response.status_code >= 400:
                raise KetchWebAPIError(
                    response.status_code, _error_message(response), retry_after_seconds(response.headers)
                )
            return _json(response)

        retrying = policy.retrying(describe=lambda: f"Ketch web API {operation}", sleep=self._sleep)
        return retrying(attempt)

    def request_body(
        self, identities: Mapping[str, str], property: str | None = None, environment: str | None = None
    ) -> dict[str, Any]:
        """The fields every subscriptions call carries."""
        body: dict[str, Any] = {"organizationCode": self.organization, "identities": dict(identities)}
        if property or self.property_code:
            body["propertyCode"] = property or self.property_code
        if environment or self.environment:
            body["environmentCode"] = environment or self.environment
        return body

    def get_subscriptions(
        self, identities: Mapping[str, str], property: str | None = None, environment: str | None = None
    ) -> dict[str, Any]:
        """What Ketch holds for one user (``POST /subscriptions/{organizationCode}/get``).

        :param identities: ``{identity_space: value}``, e.g. ``{"email": "ada@example.com"}``.
        :param property: the Ketch property (defaults to the ``property`` extra).
        :param environment: the Ketch environment (defaults to the ``environment`` extra).
        :return: Ketch's answer: ``topics``, ``controls``, ``collectedAt``... (``{}`` when empty).
        """
        _check_identities(identities)
        body = self.request_body(identities, property, environment)
        return self.post(f"subscriptions/{body['organizationCode']}/get", body)

    def set_subscriptions(
        self,
        identities: Mapping[str, str],
        *,
        topics: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
        controls: Mapping[str, Mapping[str, str]] | None = None,
        property: str | None = None,
        environment: str | None = None,
        collected_at: float | None = None,
        source: str = DISTRIBUTION,
    ) -> None:
        """Record a user's choices in Ketch (``POST /subscriptions/{organizationCode}/update``).

        :param identities: ``{identity_space: value}``.
        :param topics: ``{topic: {channel: {"status": "granted" | "denied"}}}``.
        :param controls: ``{control: {"status": "granted" | "denied"}}``.
        :param property: the Ketch property (defaults to the ``property`` extra).
        :param environment: the Ketch environment (defaults to the ``environment`` extra).
        :param collected_at: when the user chose, unix seconds (now when omitted).
        :param source: ``context.source`` sent to Ketch.
        """
        _check_identities(identities)
        if not topics and not controls:
            raise ValueError("set_subscriptions needs topics or controls")
        statuses = [d.get("status") for channels in (topics or {}).values() for d in channels.values()]
        statuses += [d.get("status") for d in (controls or {}).values()]
        if any(status not in _SUBSCRIPTION_STATUSES for status in statuses):
            raise ValueError(f"every subscription status must be one of {_SUBSCRIPTION_STATUSES}")
        body = self.request_body(identities, property, environment)
        if topics:
            body["topics"] = {t: {c: dict(d) for c, d in ch.items()} for t, ch in topics.items()}
        if controls:
            body["controls"] = {c: dict(d) for c, d in controls.items()}
        body["collectedAt"] = int(time.time() if collected_at is None else collected_at)
        body["context"] = {"source": source}
        self.post(f"subscriptions/{body['organizationCode']}/update", body)

    def reconcile(
        self,
        identities_list: Iterable[Mapping[str, str]],
        property: str | None = None,
        environment: str | None = None,
        *,
        changed_since: float | None = None,
    ) -> Iterator[KetchSubscriptionState]:
        """Read Ketch's current state of every known identity, at ``web_api_qps`` requests per second.

        Ketch's web API has no list or "changed since" call, so a sweep over a known list of users
        (e.g. a warehouse table) is the only pull it allows; webhooks remain the change feed. An
        identity Ketch refuses (a 4xx other than 429) yields a state with ``error`` and the sweep
        goes on; exhausted retries raise. Progress (count, rate, ETA) is logged as it goes.

        :param identities_list: ``{identity_space: value}`` per user (a sized collection gets an ETA).
        :param property: the Ketch property (defaults to the ``property`` extra).
        :param environment: the Ketch environment (defaults to the ``environment`` extra).
        :param changed_since: unix seconds; skip users whose ``collectedAt`` is not later.
        """
        total = len(identities_list) if isinstance(identities_list, Sized) else None
        started = last_log = self._clock()
        done = failed = 0
        for identities in identities_list:
            try:
                answer = self.get_subscriptions(identities, property, environment)
            except KetchWebAPIError as exc:
                if exc.is_retryable:
                    raise
                failed += 1
                state = KetchSubscriptionState(dict(identities), error=str(exc))
            else:
                state = KetchSubscriptionState(
                    dict(identities),
                    topics=answer.get("topics") or {},
                    controls=answer.get("controls") or {},
                    collected_at=epoch_seconds(answer.get("collectedAt")),
                )
            done += 1
            now = self._clock()
            if done % _PROGRESS_EVERY == 0 or now - last_log >= _PROGRESS_SECONDS:
                self._log_progress(done, total, failed, now - started)
                last_log = now
            if (
                state.error is None
                and changed_since is not None
                and state.collected_at is not None
                and state.collected_at <= changed_since
            ):
                continue
            yield state
        self._log_progress(done, total, failed, self._clock() - started, final=True)

    def _log_progress(self, done: int, total: int | None, failed: int, elapsed: float, final: bool = False) -> None:
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = ""
        if total is not None and not final and rate > 0:
            eta = f", ETA {(total - done) / rate:.0f} s"
        log.info(
            "Ketch reconciliation%s: %d/%s identities read (%.1f/s, %d refused%s)",
            " done" if final else "",
            done,
            "?" if total is None else total,
            rate,
            failed,
            eta,
        )


def _json(response: requests.Response) -> dict[str, Any]:
    if response.status_code == 204 or not response.content.strip():
        return {}
    try:
        body = response.json()
    except ValueError:
        raise KetchWebAPIError(response.status_code, "the answer is not JSON") from None
    return body if isinstance(body, dict) else {}


def _check_identities(identities: Mapping[str, str]) -> None:
    if not isinstance(identities, Mapping) or not identities:
        raise ValueError("identities must be a non-empty {identity_space: value} mapping")
    if not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in identities.items()):
        raise ValueError("every identity must be an identity space code mapped to a non-empty string")
