"""KetchHook: an Airflow connection to Ketch: the webhook event store, and Ketch's public web API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from sqlalchemy import URL, make_url

from airflow_provider_braze import USER_AGENT, redaction
from airflow_provider_braze.hooks.ketch_settings import (
    KetchConfigurationError,
    KetchConnectionSettings,
    default_state_url,
)
from airflow_provider_braze.hooks.state import sqlalchemy_url_of
from airflow_provider_braze.ketch.web_api import KetchSubscriptionState, KetchWebAPIClient, KetchWebAPIError
from airflow_provider_braze.provider_info import KETCH_UI_FIELD_BEHAVIOUR, legacy_ui_field_behaviour
from airflow_provider_braze.state import KetchEventStore

if TYPE_CHECKING:
    from fastapi import FastAPI


class KetchHook(BaseHook):
    """Reaches Ketch from Airflow: the store of received webhooks, and Ketch's public web API.

    The connection's host is the web API base URL (Ketch's global URL when empty; plain ``http``
    only to a loopback host), the login the organization code, the password the bearer token Ketch
    sends with webhooks. Extras name the state store (``state_conn_id`` or ``state_url``; a SQLite
    file ``braze_provider_state.db`` under ``AIRFLOW_HOME`` by default), the ``property`` and ``environment``
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
        return legacy_ui_field_behaviour(KETCH_UI_FIELD_BEHAVIOUR)

    @cached_property
    def settings(self) -> KetchConnectionSettings:
        """The connection, read once and validated."""
        return self._remember(KetchConnectionSettings.from_connection(self.get_connection(self.ketch_conn_id)))

    def _remember(self, settings: KetchConnectionSettings) -> KetchConnectionSettings:
        for secret in (settings.webhook_token, settings.state_url):
            if secret:
                self._secrets.add(secret)
                redaction.register(secret)
        return settings

    def redact(self, text: str) -> str:
        """``text`` with the token and database passwords this hook has read replaced by ``***``."""
        return redaction.redact(text, self._secrets)

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
    def web_api(self) -> KetchWebAPIClient:
        """The web API client for this connection's organization, paced at the ``web_api_qps`` extra.

        :raises KetchConfigurationError: the connection has no organization code (its login).
        """
        import airflow

        s = self.settings
        return KetchWebAPIClient(
            s.web_api_url,
            s.require_organization(),
            property_code=s.property_code,
            environment=s.environment,
            timeout=s.timeout,
            max_attempts=s.max_attempts,
            qps=s.web_api_qps,
            user_agent=f"{USER_AGENT} apache-airflow/{airflow.__version__}",
            sleep=self._sleep,
            clock=self._clock,
        )

    def get_subscriptions(
        self, identities: Mapping[str, str], property: str | None = None, environment: str | None = None
    ) -> dict[str, Any]:
        """What Ketch holds for one user; see :meth:`KetchWebAPIClient.get_subscriptions`."""
        return self.web_api.get_subscriptions(identities, property, environment)

    def set_subscriptions(self, identities: Mapping[str, str], **choices: Any) -> None:
        """Record a user's choices in Ketch; see :meth:`KetchWebAPIClient.set_subscriptions`."""
        self.web_api.set_subscriptions(identities, **choices)

    def reconcile(
        self, identities_list: Iterable[Mapping[str, str]], *args: Any, **kwargs: Any
    ) -> Iterator[KetchSubscriptionState]:
        """Read Ketch's current state of every known identity; see :meth:`KetchWebAPIClient.reconcile`."""
        return self.web_api.reconcile(identities_list, *args, **kwargs)

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
                web_api = self.web_api
            except KetchConfigurationError as exc:
                return False, f"{parts[0]}, but {exc}"
            try:
                body = web_api.request_body({})
                web_api.post(f"subscriptions/{body['organizationCode']}/get", body, attempts=1)
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
        if "web_api" in self.__dict__:
            self.web_api.close()
            del self.__dict__["web_api"]
        if self._event_store is not None:
            self._event_store.dispose()


__all__ = ["KetchConfigurationError", "KetchHook", "KetchSubscriptionState", "KetchWebAPIError"]
