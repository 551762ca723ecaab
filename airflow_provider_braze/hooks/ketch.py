"""KetchHook: an Airflow connection to Ketch: the webhook event store, and Ketch's public web API."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import requests
from airflow.sdk import BaseHook
from sqlalchemy import URL, make_url

from airflow_provider_braze import __version__
from airflow_provider_braze.braze.rate_limit import TokenBucket
from airflow_provider_braze.hooks.ketch_settings import (
    KetchConfigurationError,
    KetchConnectionSettings,
    default_state_url,
)
from airflow_provider_braze.ketch.events import epoch_seconds
from airflow_provider_braze.state import KetchEventStore

if TYPE_CHECKING:
    from fastapi import FastAPI

#: Statuses worth another attempt: rate limited, or failed at or before the server.
_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_SUBSCRIPTION_STATUSES = ("granted", "denied")
_PROGRESS_EVERY = 100
_PROGRESS_SECONDS = 30.0
_MAX_BACKOFF = 30.0


class KetchWebAPIError(Exception):
    """Ketch's web API answered with an error status; the text is Ketch's message, never the request sent."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"Ketch web API answered HTTP {status_code}: {message}")
        self.status_code = status_code
        self.message = message

    @property
    def is_retryable(self) -> bool:
        return self.status_code in _RETRYABLE_STATUSES


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


def sqlalchemy_url_of(conn: Any) -> str | URL:
    """The SQLAlchemy URL of an Airflow database connection (``postgres``, ``sqlite``...).

    The connection's own hook knows its dialect and driver best (``sqlalchemy_url``, else ``get_uri``);
    without a hook the connection URI is used, with Airflow's ``postgres://`` spelled as SQLAlchemy's.
    """
    try:
        hook = conn.get_hook()
    except Exception:  # noqa: BLE001 - no provider for this type: fall back to the URI below
        hook = None
    if hook is not None:
        try:
            return hook.sqlalchemy_url
        except (AttributeError, NotImplementedError):
            pass
        if callable(getattr(hook, "get_uri", None)):
            return hook.get_uri()
    uri = conn.get_uri()
    return "postgresql" + uri[len("postgres") :] if uri.startswith("postgres://") else uri


def _retry_after_seconds(response: requests.Response | None, now: Callable[[], float] = time.time) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError):
        return None


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


class KetchHook(BaseHook):
    """Reaches Ketch from Airflow: the store of received webhooks, and Ketch's public web API.

    The connection's host is the web API base URL (Ketch's global URL when empty; plain ``http``
    only to a loopback host), the login the organization code, the password the bearer token Ketch
    sends with webhooks. Extras name the state store (``state_conn_id`` or ``state_url``; a SQLite
    file ``ketch_state.db`` under ``AIRFLOW_HOME`` by default), the ``property`` and ``environment``
    sent to the web API, the receiver's ``max_body_bytes`` and ``web_api_qps``, the pace of web API
    requests. Nothing is read or sent until a method needs it; the token never reaches logs, repr or
    exception text.

    :param ketch_conn_id: the Airflow connection id.
    :param sleep: how to wait (throttling and retries); replaced in tests.
    :param clock: a monotonic clock for throttling and progress; replaced in tests.
    """

    conn_name_attr = "ketch_conn_id"
    default_conn_name = "ketch_default"
    conn_type = "ketch"
    hook_name = "Ketch"

    def __init__(
        self,
        ketch_conn_id: str = default_conn_name,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ketch_conn_id = ketch_conn_id
        self._sleep = sleep
        self._clock = clock
        self._event_store: KetchEventStore | None = None
        self._secrets: set[str] = set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ketch_conn_id={self.ketch_conn_id!r})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form for Airflow cores older than 3.2 (newer ones read provider info)."""
        from airflow_provider_braze.provider_info import KETCH_UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": KETCH_UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": KETCH_UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": KETCH_UI_FIELD_BEHAVIOUR["placeholders"],
        }

    @cached_property
    def settings(self) -> KetchConnectionSettings:
        """The connection, read once and validated."""
        return self._remember(KetchConnectionSettings.from_connection(self.get_connection(self.ketch_conn_id)))

    def _remember(self, settings: KetchConnectionSettings) -> KetchConnectionSettings:
        if settings.webhook_token:
            self._secrets.add(settings.webhook_token)
        if settings.state_url:
            self._secrets.add(settings.state_url)
        return settings

    def redact(self, text: str) -> str:
        """``text`` with the token and database passwords this hook has read replaced by ``***``."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    # --- the state store ---------------------------------------------------------------------------

    def state_store_url(self) -> str | URL:
        """The SQLAlchemy URL of the state store (``state_url``, ``state_conn_id`` or the SQLite default)."""
        s = self.settings
        state_conn = self.get_connection(s.state_conn_id) if s.state_conn_id else None
        return self._state_url(s, state_conn)

    def _state_url(self, settings: KetchConnectionSettings, state_conn: Any) -> str | URL:
        if settings.state_url:
            url: str | URL = settings.state_url
        elif state_conn is not None:
            url = sqlalchemy_url_of(state_conn)
        else:
            return default_state_url()
        try:
            password = make_url(url).password
        except Exception:  # noqa: BLE001 - the engine reports a bad URL; only the password matters here
            password = None
        if password:
            self._secrets.add(str(password))
        return url

    def get_event_store(self) -> KetchEventStore:
        """The store the webhook receiver writes to (one per hook; tables are created on first use)."""
        if self._event_store is None:
            self._event_store = KetchEventStore(self.state_store_url())
        return self._event_store

    async def aget_event_store(self) -> KetchEventStore:
        """:meth:`get_event_store` for async code: connections are read with ``get_async_connection``.

        Building the engine (and a database hook's URL) happens in a worker thread, so the event loop
        is never blocked; the store's own methods are synchronous: call them with ``asyncio.to_thread``.
        """
        if self._event_store is not None:
            return self._event_store
        from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

        conn = await get_async_connection(self.ketch_conn_id, hook=self)
        extras = await get_async_extra_dejson(conn)
        settings = self._remember(KetchConnectionSettings.from_connection(conn, extras=extras))
        self.__dict__["settings"] = settings
        state_conn = await get_async_connection(settings.state_conn_id) if settings.state_conn_id else None

        def build() -> KetchEventStore:
            return KetchEventStore(self._state_url(settings, state_conn))

        self._event_store = await asyncio.to_thread(build)
        return self._event_store

    def create_receiver_app(self, *, prefix: str = "/ketch") -> FastAPI:
        """The webhook receiver (a FastAPI app) for this connection's token, body limit and store.

        :param prefix: path prefix of its routes (``""`` when mounted under a prefix already).
        :raises KetchConfigurationError: the connection has no bearer token.
        """
        from airflow_provider_braze.ketch.receiver import DEFAULT_MAX_BODY_BYTES, create_receiver_app

        s = self.settings
        if not s.webhook_token:
            raise KetchConfigurationError(
                f"Connection {self.ketch_conn_id!r} has no webhook bearer token (its password): the receiver "
                "would accept nobody."
            )
        store = self.get_event_store()
        store.ensure_schema()
        return create_receiver_app(store, s.webhook_token, s.max_body_bytes or DEFAULT_MAX_BODY_BYTES, prefix=prefix)

    # --- the web API -------------------------------------------------------------------------------

    @cached_property
    def session(self) -> requests.Session:
        """One pooled HTTP session for the web API (it needs no key)."""
        import airflow

        session = requests.Session()
        session.headers.update(
            {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": f"airflow-provider-braze/{__version__} apache-airflow/{airflow.__version__}",
            }
        )
        return session

    @cached_property
    def throttle(self) -> TokenBucket:
        """Paces every web API request at the ``web_api_qps`` extra (no bursts)."""
        return TokenBucket(self.settings.web_api_qps, 1, clock=self._clock, sleep=self._sleep)

    def _post(self, operation: str, body: Mapping[str, Any], *, attempts: int | None = None) -> dict[str, Any]:
        """POST ``{base}/{operation}``; retries 429 (after ``Retry-After``), 5xx and connection errors."""
        s = self.settings
        url = f"{s.web_api_url}/{operation}"
        attempts = attempts or s.max_attempts
        attempt = 0
        while True:
            attempt += 1
            self.throttle.acquire()
            response = None
            try:
                response = self.session.post(url, json=dict(body), timeout=(10.0, s.timeout))
            except (requests.ConnectionError, requests.Timeout) as exc:
                error: Exception = exc
            else:
                if response.status_code < 400:
                    return self._json(response)
                error = KetchWebAPIError(response.status_code, _error_message(response))
                if not error.is_retryable:
                    raise error
            if attempt >= attempts:
                raise error
            wait = _retry_after_seconds(response)
            if wait is None:
                wait = random.uniform(0, min(_MAX_BACKOFF, 0.5 * 2 ** (attempt - 1)))
            self.log.warning(
                "Ketch web API %s failed (%s); attempt %d of %d in %.1f s",
                operation, type(error).__name__ if response is None else response.status_code,
                attempt + 1, attempts, wait,
            )
            self._sleep(wait)

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        if response.status_code == 204 or not response.content.strip():
            return {}
        try:
            body = response.json()
        except ValueError:
            raise KetchWebAPIError(response.status_code, "the answer is not JSON") from None
        return body if isinstance(body, dict) else {}

    def _request_body(
        self, identities: Mapping[str, str], property: str | None, environment: str | None
    ) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {"organizationCode": s.require_organization(), "identities": dict(identities)}
        if property or s.property_code:
            body["propertyCode"] = property or s.property_code
        if environment or s.environment:
            body["environmentCode"] = environment or s.environment
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
        body = self._request_body(identities, property, environment)
        return self._post(f"subscriptions/{body['organizationCode']}/get", body)

    def set_subscriptions(
        self,
        identities: Mapping[str, str],
        *,
        topics: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
        controls: Mapping[str, Mapping[str, str]] | None = None,
        property: str | None = None,
        environment: str | None = None,
        collected_at: float | None = None,
        source: str = "airflow-provider-braze",
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
        body = self._request_body(identities, property, environment)
        if topics:
            body["topics"] = {t: {c: dict(d) for c, d in ch.items()} for t, ch in topics.items()}
        if controls:
            body["controls"] = {c: dict(d) for c, d in controls.items()}
        body["collectedAt"] = int(time.time() if collected_at is None else collected_at)
        body["context"] = {"source": source}
        self._post(f"subscriptions/{body['organizationCode']}/update", body)

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
        total = len(identities_list) if hasattr(identities_list, "__len__") else None
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
            if state.error is None and changed_since is not None and state.collected_at is not None:
                if state.collected_at <= changed_since:
                    continue
            yield state
        self._log_progress(done, total, failed, self._clock() - started, final=True)

    def _log_progress(self, done: int, total: int | None, failed: int, elapsed: float, final: bool = False) -> None:
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = ""
        if total is not None and not final and rate > 0:
            eta = f", ETA {(total - done) / rate:.0f} s"
        self.log.info(
            "Ketch reconciliation%s: %d/%s identities read (%.1f/s, %d refused%s)",
            " done" if final else "", done, "?" if total is None else total, rate, failed, eta,
        )

    # --- housekeeping ------------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Check that the state store is reachable and, when a web API host is set, that Ketch answers."""
        try:
            s = self.settings
            store = self.get_event_store()
            store.ping()
        except Exception as exc:  # a connection test reports every failure instead of raising
            return False, f"The Ketch state store is unreachable: {type(exc).__name__}: {self.redact(str(exc))}"
        parts = [f"State store reachable ({store.engine.dialect.name})"]
        if s.web_api_configured:
            try:
                body = self._request_body({}, None, None)
            except KetchConfigurationError as exc:
                return False, f"{parts[0]}, but {exc}"
            try:
                self._post(f"subscriptions/{body['organizationCode']}/get", body, attempts=1)
            except KetchWebAPIError as exc:
                # Any answer but "not found" or a server error shows the API and the organization exist.
                if exc.status_code == 404 or exc.is_retryable:
                    return False, f"{parts[0]}, but the Ketch web API at {s.web_api_url} failed: {exc}"
            except Exception as exc:
                return False, (
                    f"{parts[0]}, but the Ketch web API at {s.web_api_url} could not be reached: "
                    f"{type(exc).__name__}: {self.redact(str(exc))}"
                )
            parts.append(f"Ketch web API at {s.web_api_url} answers for organization {s.organization!r}")
        if not s.webhook_token:
            parts.append("no webhook bearer token is set, so the receiver will not start")
        return True, "; ".join(parts) + "."

    def close(self) -> None:
        """Close the web API session and the store's pooled connections (both reopen on demand)."""
        if "session" in self.__dict__:
            self.session.close()
            del self.__dict__["session"]
        if self._event_store is not None:
            self._event_store.dispose()


def _check_identities(identities: Mapping[str, str]) -> None:
    if not isinstance(identities, Mapping) or not identities:
        raise ValueError("identities must be a non-empty {identity_space: value} mapping")
    if not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in identities.items()):
        raise ValueError("every identity must be an identity space code mapped to a non-empty string")


__all__ = ["KetchConfigurationError", "KetchHook", "KetchSubscriptionState", "KetchWebAPIError"]
