"""BrazeHook: an Airflow connection to one Braze workspace's REST API."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property
from types import SimpleNamespace
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_braze import USER_AGENT, redaction
from airflow_provider_braze.braze import cdi_jobs
from airflow_provider_braze.braze.async_transport import AsyncBrazeClient
from airflow_provider_braze.braze.cancel import CancelToken
from airflow_provider_braze.braze.cdi_jobs import CDIJob
from airflow_provider_braze.braze.endpoints import CATALOGUE, Endpoint, get_endpoint
from airflow_provider_braze.braze.errors import (
    BrazeAPIError,
    BrazeAuthenticationError,
    BrazeConfigurationError,
    BrazeError,
    BrazePermissionError,
    BrazeTransportError,
)
from airflow_provider_braze.braze.exchange import BrazeResponse
from airflow_provider_braze.braze.instances import resolve_base_url
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.braze.rate_limit import RateLimiter
from airflow_provider_braze.braze.retry import RetryPolicy
from airflow_provider_braze.braze.sender import BatchResult, BatchSender, SendJournal
from airflow_provider_braze.braze.transport import BrazeClient
from airflow_provider_braze.hooks.extras import BrazeConnectionSettings
from airflow_provider_braze.metrics import observe_request
from airflow_provider_braze.provider_info import BRAZE_UI_FIELD_BEHAVIOUR, legacy_ui_field_behaviour


class BrazeHook(BaseHook):
    """Talks to Braze's REST API with the workspace's REST API key.

    The connection's host is an instance code (``US-03``, ``EU-01`` ...) or the REST endpoint URL;
    the password is the REST API key. Extras tune timeouts, retries, concurrency and rate limits
    (see :class:`~airflow_provider_braze.hooks.extras.BrazeConnectionSettings`). Nothing is read or
    sent until a method needs it.

    :param braze_conn_id: the Airflow connection id.
    :param concurrency: requests in flight at once when sending batches (overrides the extra).
    :param retry_policy: a retry policy replacing the one built from the connection's extras.
    :param retry_ambiguous: overrides the connection's ``retry_ambiguous`` extra: resend events,
        purchases and increments whose request may have been applied (at-least-once delivery).
    :param cancel_token: cancelling it stops every request of this hook (an operator's ``on_kill``
        does, through :meth:`cancel`); default: the hook's own.
    """

    conn_name_attr = "braze_conn_id"
    default_conn_name = "braze_default"
    conn_type = "braze"
    hook_name = "Braze"

    def __init__(
        self,
        braze_conn_id: str = default_conn_name,
        *,
        concurrency: int | None = None,
        retry_policy: RetryPolicy | None = None,
        retry_ambiguous: bool | None = None,
        cancel_token: CancelToken | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.braze_conn_id = braze_conn_id
        self._concurrency = concurrency
        self._retry_policy = retry_policy
        self._retry_ambiguous = retry_ambiguous
        self.cancel_token = cancel_token or CancelToken()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form for Airflow cores older than 3.2 (newer ones read provider info)."""
        return legacy_ui_field_behaviour(BRAZE_UI_FIELD_BEHAVIOUR)

    @cached_property
    def settings(self) -> BrazeConnectionSettings:
        """The connection, read once and validated."""
        conn = self.get_connection(self.braze_conn_id)
        settings = BrazeConnectionSettings.from_connection(conn)
        redaction.register(settings.api_key)  # Airflow masks passwords it reads; an extra may hold the key too
        return settings

    @cached_property
    def client(self) -> BrazeClient:
        """The Braze client for this connection (one pooled session per hook)."""
        s = self.settings
        import airflow

        return BrazeClient(
            resolve_base_url(s.host, s.port),
            s.api_key,
            timeout=(s.connect_timeout, s.timeout),
            retry_policy=self.retry_policy,
            rate_limiter=RateLimiter(s.rate_limits, share=s.rate_limit_share, enabled=s.client_rate_limiting),
            pool_size=max(self.concurrency, 4),  # a socket for each request the window may hold
            user_agent=f"{USER_AGENT} apache-airflow/{airflow.__version__}",
            verify=s.verify,
            observers=(observe_request,),
            cancel_token=self.cancel_token,
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy: the one given, else the connection's, with ``retry_ambiguous`` applied."""
        policy = self._retry_policy or self.settings.retry_policy()
        if self._retry_ambiguous is not None and policy.retry_ambiguous != self._retry_ambiguous:
            policy = dataclasses.replace(policy, retry_ambiguous=self._retry_ambiguous)
        return policy

    def get_conn(self) -> BrazeClient:
        """Return the :class:`~airflow_provider_braze.braze.transport.BrazeClient`."""
        return self.client

    @property
    def base_url(self) -> str:
        return self.client.base_url

    @property
    def concurrency(self) -> int:
        return self._concurrency or self.settings.concurrency

    def endpoint(self, name: str | Endpoint) -> Endpoint:
        """The catalogue entry for ``name``, with this workspace's /users/track object limit applied."""
        ep = get_endpoint(name)
        limit = self.settings.users_track_max_objects
        if ep.name == "users/track" and limit is not None:
            return ep.with_limits(max_items=min(ep.max_items or limit, limit), max_total_items=limit)
        return ep

    def call(
        self,
        endpoint: str | Endpoint,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, Any] | None = None,
    ) -> BrazeResponse:
        """Make one request (with rate limiting and retries) and return the 2xx response.

        :param endpoint: catalogue name such as ``users/export/ids``.
        :param json: the request body.
        :param params: query parameters for GET endpoints.
        :param path_params: path values (``integration_id``).
        """
        return self.client.request(self.endpoint(endpoint), json_body=json, params=params, path_params=path_params)

    def send(
        self,
        endpoint: str | Endpoint,
        items: Iterable[Item],
        *,
        static_body: Mapping[str, Any] | None = None,
        concurrency: int | None = None,
        on_wait: Callable[[], None] | None = None,
        journal: SendJournal | None = None,
    ) -> Iterator[BatchResult]:
        """Send objects in batches within the endpoint's limits; yield per-batch outcomes.

        :param endpoint: catalogue name such as ``users/track``.
        :param items: the objects, each with its body key and a reference back to its source.
        :param static_body: fields sent in every request body.
        :param concurrency: requests in flight (defaults to the connection's setting).
        :param on_wait: called every 10 s while no batch completes (to keep logging progress).
        :param journal: told about each batch before it is sent and when its outcome is known
            (the sync ledger), from the thread that sends it.
        """
        sender = BatchSender(self.client, concurrency=concurrency or self.concurrency, journal=journal)
        return sender.send(self.endpoint(endpoint), items, static_body=static_body, on_wait=on_wait)

    def test_connection(self) -> tuple[bool, str]:
        """Check the key and instance with a request that writes nothing and costs no data points.

        It posts an empty body to the endpoint named by the ``test_endpoint`` extra (default
        ``users/track``): Braze checks the key and its permission before it looks at the body, so a
        400 about the empty body still proves both.
        """
        try:
            s = self.settings
            ep = get_endpoint(s.test_endpoint)
            base_url = resolve_base_url(s.host, s.port)
        except (BrazeError, KeyError) as exc:
            return False, str(exc)
        try:
            if ep.method == "GET":
                self.client.request(ep, params={})
            else:
                self.client.request(ep, json_body={})
        except BrazeAuthenticationError:
            return False, (
                f"Braze at {base_url} rejected the REST API key (HTTP 401): the key is wrong, or it belongs to "
                "another instance (check the REST endpoint under Settings > APIs and Identifiers)."
            )
        except BrazePermissionError as exc:
            return False, (
                f"The REST API key is valid but lacks the {ep.permission!r} permission needed for {ep.path} "
                f"(HTTP 403: {exc.message}). Add it to the key in Braze, or set the test_endpoint extra to an "
                "endpoint this key may call."
            )
        except BrazeAPIError as exc:
            if exc.status_code != 400:  # a 400 is about the empty body: key and permission passed
                return False, str(exc)
        except BrazeTransportError as exc:
            return False, f"Could not reach Braze at {base_url}: {exc}"
        except BrazeError as exc:
            return False, str(exc)
        except Exception as exc:  # a connection test reports every failure instead of raising
            return False, f"Could not reach Braze at {base_url}: {type(exc).__name__}: {exc}"
        return True, f"Connected to Braze at {base_url}; the key may call {ep.path} ({ep.permission})."

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop this hook's requests within seconds: no new one leaves, every wait ends at once.

        A send in progress then reports its waiting batches ``failed``, gives requests in flight a
        few seconds, and raises :class:`~airflow_provider_braze.braze.errors.BrazeCancelledError`.
        Safe to call from a signal handler (Airflow calls ``on_kill`` from its SIGTERM handler).

        :param reason: for the error and the failed rows, e.g. ``export cancelled (SIGTERM)``.
        """
        self.cancel_token.cancel(reason)

    def close(self) -> None:
        """Close pooled connections (the hook can still be used; it reconnects on demand)."""
        if "client" in self.__dict__:
            self.client.close()

    # --- Cloud Data Ingestion (Braze's pages are linked in braze/cdi_jobs.py); helpers there too -------

    async def aget_client(self) -> AsyncBrazeClient:
        """An :class:`~airflow_provider_braze.braze.async_transport.AsyncBrazeClient` for this connection.

        For triggers: the connection is read with ``get_async_connection``, so the event loop is never
        blocked. The caller owns the client: ``async with await hook.aget_client() as client: ...``.
        """
        from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

        conn = await get_async_connection(self.braze_conn_id, hook=self)
        extras = await get_async_extra_dejson(conn)
        # from_connection reads extra_dejson, whose secret masking is synchronous: give it the extras
        # already read asynchronously instead.
        s = BrazeConnectionSettings.from_connection(
            SimpleNamespace(
                conn_id=conn.conn_id, host=conn.host, port=conn.port, password=conn.password, extra_dejson=extras
            )
        )
        redaction.register(s.api_key)
        import airflow

        return AsyncBrazeClient(
            resolve_base_url(s.host, s.port),
            s.api_key,
            timeout=(s.connect_timeout, s.timeout),
            retry_policy=self._retry_policy or s.retry_policy(),
            user_agent=f"{USER_AGENT} apache-airflow/{airflow.__version__}",
            verify=s.verify,
        )

    def list_cdi_integrations(self) -> list[dict[str, Any]]:
        """Every Cloud Data Ingestion integration of the workspace (``GET /cdi/integrations``, all pages)."""
        return list(cdi_jobs.iter_integrations(self.call))

    def trigger_cdi_sync(self, integration_id: str) -> BrazeResponse:
        """Start a sync of a CDI integration (``POST /cdi/integrations/{integration_id}/sync``, HTTP 202).

        :param integration_id: the integration's id.
        :raises BrazeJobInProgressError: a sync of this integration is already running (Braze's
            ``429 Another job is in progress``); a real rate-limit 429 is retried instead.
        """
        return self.call(cdi_jobs.SYNC_ENDPOINT, path_params=cdi_jobs.path_params(integration_id))

    def get_cdi_job_status(
        self, integration_id: str, *, sync_start_time: str | None = None, after: str | None = None
    ) -> CDIJob | None:
        """A sync job of a CDI integration (``GET .../job_sync_status``), or ``None`` if there is none yet.

        Without bounds this is the latest job, the first result: Braze does not document the order
        of the results, and the provider assumes newest first. With bounds it is the first job that
        started at or after ``sync_start_time`` and strictly after ``after`` (see
        :class:`~airflow_provider_braze.braze.cdi_jobs.CDIJobSelector`).

        :param integration_id: the integration's id.
        :param sync_start_time: ISO 8601 lower bound, inclusive (the start of a known job selects it).
        :param after: ISO 8601 lower bound, exclusive (the start of the job before ours).
        """
        response = self.call(cdi_jobs.STATUS_ENDPOINT, path_params=cdi_jobs.path_params(integration_id))
        return cdi_jobs.CDIJobSelector(sync_start_time, after).pick(response.body.get("results"))

    async def aget_cdi_job_status(
        self,
        integration_id: str,
        *,
        sync_start_time: str | None = None,
        after: str | None = None,
        client: AsyncBrazeClient | None = None,
    ) -> CDIJob | None:
        """:meth:`get_cdi_job_status` for async code; pass ``client`` to reuse one across polls."""
        selector = cdi_jobs.CDIJobSelector(sync_start_time, after)
        if client is not None:
            return await cdi_jobs.afetch_job(client, integration_id, selector)
        async with await self.aget_client() as own:
            return await cdi_jobs.afetch_job(own, integration_id, selector)


__all__ = ["CATALOGUE", "BrazeConfigurationError", "BrazeHook"]
