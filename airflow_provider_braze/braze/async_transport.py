"""The asynchronous twin of :mod:`~airflow_provider_braze.braze.transport`, for triggers.

Triggers run on the triggerer's event loop, where a blocking ``requests`` call would stall every
other trigger, so they talk to Braze through :class:`AsyncBrazeClient` on ``httpx``. It makes the
same decisions as the synchronous client: one :class:`~airflow_provider_braze.braze.retry.RetryPolicy`
(run by tenacity's ``AsyncRetrying``), the same typed errors, Bearer auth and ``User-Agent``, and the
key never reaches ``repr``, logs or exception text.

Everything it decides about a call, the body, whether it is safe to resend, what an answer means and
how a call that gave up is reported, is :class:`~airflow_provider_braze.braze.exchange.Exchange`,
shared with the synchronous client. Transport failures are classified by
:func:`~airflow_provider_braze.braze.transport_errors.from_httpx` into the project's own exceptions,
as :func:`~airflow_provider_braze.braze.transport_errors.from_requests` classifies requests' failures,
so callers catch the same exception types from both clients and the rules cannot drift apart.

It carries no client-side token bucket: the synchronous
:class:`~airflow_provider_braze.braze.rate_limit.RateLimiter` sleeps in threads, and triggers poll
far below any Braze limit (a CDI status poll every few seconds against 100 requests a minute). A
429 is still honoured: the policy waits until ``X-RateLimit-Reset``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import tenacity

from airflow_provider_braze.braze.base_client import DEFAULT_USER_AGENT, BaseBrazeClient
from airflow_provider_braze.braze.endpoints import Endpoint, get_endpoint
from airflow_provider_braze.braze.errors import BrazeError
from airflow_provider_braze.braze.exchange import BrazeResponse, Exchange
from airflow_provider_braze.braze.responses import response_body
from airflow_provider_braze.braze.retry import RetryPolicy
from airflow_provider_braze.braze.transport_errors import from_httpx

log = logging.getLogger(__name__)


class AsyncBrazeClient(BaseBrazeClient):
    """Sends requests to one Braze workspace from async code.

    Use it as an async context manager (``async with AsyncBrazeClient(...) as client``) or call
    :meth:`aclose`: the underlying ``httpx.AsyncClient`` belongs to the event loop it first ran on.

    :param base_url: REST base URL (see :func:`~airflow_provider_braze.braze.instances.resolve_base_url`).
    :param api_key: the REST API key.
    :param timeout: ``(connect, read)`` seconds per attempt (default: the retry policy's).
    :param retry_policy: when and how to retry (the same object the synchronous client takes).
    :param user_agent: ``User-Agent`` header.
    :param verify: TLS verification: a bool or a CA bundle path.
    :param sleep: how the retry loop waits; an async callable, injectable for tests.
    :param transport: an httpx transport replacing the network (``httpx.MockTransport`` in tests).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: tuple[float, float] | None = None,
        retry_policy: RetryPolicy | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        verify: bool | str = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, retry_policy, user_agent)
        self._verify = verify
        self._sleep = sleep
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> AsyncBrazeClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    @property
    def client(self) -> httpx.AsyncClient:
        """The pooled httpx client, created on first use (no I/O before a request is made)."""
        if self._client is None:
            connect, read = self.timeout
            self._client = httpx.AsyncClient(
                headers=self._headers,
                timeout=httpx.Timeout(read, connect=connect),
                verify=_ssl_verify(self._verify),
                transport=self._transport,
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        """Close pooled connections (the client reconnects if used again)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def request(
        self,
        endpoint: str | Endpoint,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> BrazeResponse:
        """Send one request with retries; return the 2xx response.

        :param endpoint: catalogue name or :class:`Endpoint`.
        :param json_body: a JSON-serialisable body.
        :param params: query parameters.
        :param path_params: values for the path template (already URL-safe).
        :param idempotent: overrides the catalogue's view of whether the body is safe to resend.
        :raises BrazeAPIError: the typed error for a non-2xx answer after retries.
        :raises BrazeTransportError: no answer after retries (``BrazeConnectError``: never sent).
        :raises BrazeAmbiguousOutcomeError: a request that is not safe to resend failed after an
            attempt Braze may have applied.
        :raises BrazeRateLimitWaitError: a 429 asked for a wait longer than what is left of
            ``max_retry_seconds``.
        """
        call = Exchange.prepare(
            self.base_url, endpoint, json_body=json_body, path_params=path_params, idempotent=idempotent
        )

        async def attempt() -> BrazeResponse:
            call.attempt_started()
            try:
                return await self._send_once(call, params)
            except BrazeError as exc:
                call.attempt_failed(exc)
                call.refuse_long_wait(exc, self.retry_policy)  # a 429 asking past max_retry_seconds
                raise

        try:
            response: BrazeResponse = await self._retrying(call)(attempt)
        except BrazeError as exc:
            call.gave_up(exc, self.retry_policy.retry_ambiguous)
        return call.succeeded(response)

    async def get(self, endpoint: str | Endpoint, **kwargs: Any) -> BrazeResponse:
        """:meth:`request` for a GET endpoint."""
        return await self.request(_expect(endpoint, "GET"), **kwargs)

    async def post(self, endpoint: str | Endpoint, **kwargs: Any) -> BrazeResponse:
        """:meth:`request` for a POST endpoint."""
        return await self.request(_expect(endpoint, "POST"), **kwargs)

    def _retrying(self, call: Exchange) -> tenacity.AsyncRetrying:
        # The synchronous Retrying carries the policy's predicate, waits, stop rule and log line;
        # only the sleep differs, so the async loop is built from its parts instead of anew.
        sync = self.retry_policy.retrying(idempotent=call.idempotent, describe=call.describe, secrets=self._secrets)
        return tenacity.AsyncRetrying(
            sleep=self._sleep,
            stop=sync.stop,
            wait=sync.wait,
            retry=sync.retry,
            before_sleep=sync.before_sleep,
            reraise=True,
        )

    async def _send_once(self, call: Exchange, params: Mapping[str, Any] | None) -> BrazeResponse:
        started = time.monotonic()
        try:
            resp = await self.client.request(
                call.endpoint.method, call.url, content=call.data, params=_query(params), headers=call.headers
            )
        except httpx.TransportError as exc:
            mapped = from_httpx(exc)
            if mapped is None:
                raise
            raise mapped from exc
        log.debug("%s -> %s in %.3f s", call.describe(), resp.status_code, time.monotonic() - started)
        return call.answer(resp.status_code, response_body(resp), resp.reason_phrase, resp.headers, self._key)


def _expect(endpoint: str | Endpoint, method: str) -> Endpoint:
    ep = get_endpoint(endpoint)
    if ep.method != method:
        raise ValueError(f"{ep.path} is a {ep.method} endpoint, not {method}")
    return ep


def _query(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    # requests drops None values from the query string; httpx would send "key=": match requests.
    if not params:
        return None
    return {key: value for key, value in params.items() if value is not None}


def _ssl_verify(verify: bool | str) -> bool | ssl.SSLContext:
    # httpx deprecates CA bundle paths in ``verify``; an SSLContext says the same thing.
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify
