"""HTTP transport to Braze: one pooled session, Bearer auth, rate limiting and retries per request.

What a call means (its body, whether it is safe to resend, the verdict on each answer, the report
when it gives up, how long it may wait) is :class:`~airflow_provider_braze.braze.exchange.Exchange`,
shared with the async client; this module moves the bytes with requests and keeps the rate limiter
informed.

Every wait of a request, in the rate limiter and between attempts, is bounded by what is left of the
retry policy's ``max_delay`` (the ``max_retry_seconds`` extra) and sleeps on a
:class:`~airflow_provider_braze.braze.cancel.CancelToken`: :meth:`BrazeClient.cancel` wakes them all
and no request leaves afterwards; :meth:`BrazeClient.abort_requests` ends the ones in flight.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import requests

from airflow_provider_braze.braze.base_client import DEFAULT_USER_AGENT, BaseBrazeClient, clean_api_key
from airflow_provider_braze.braze.cancel import CancelToken
from airflow_provider_braze.braze.connections import AbortableAdapter
from airflow_provider_braze.braze.endpoints import Endpoint
from airflow_provider_braze.braze.errors import BrazeError, BrazeRateLimitError, BrazeRateLimitWaitError
from airflow_provider_braze.braze.exchange import BrazeResponse, Exchange
from airflow_provider_braze.braze.rate_limit import RateLimiter
from airflow_provider_braze.braze.rate_limit_headers import RateLimitHeaders
from airflow_provider_braze.braze.responses import response_body
from airflow_provider_braze.braze.retry import RetryPolicy
from airflow_provider_braze.braze.transport_errors import from_requests

# DEFAULT_USER_AGENT and clean_api_key were defined here before the async client shared them.
__all__ = ["DEFAULT_USER_AGENT", "BrazeClient", "clean_api_key"]

log = logging.getLogger(__name__)


class BrazeClient(BaseBrazeClient):
    """Sends requests to one Braze workspace.

    Thread-safe: one instance is shared by the sender's thread pool. The API key lives only in the
    session's headers; it never appears in ``repr``, log lines or exception text.

    :param base_url: REST base URL (see :func:`~airflow_provider_braze.braze.instances.resolve_base_url`).
    :param api_key: the REST API key.
    :param timeout: ``(connect, read)`` seconds per attempt (default: the retry policy's).
    :param retry_policy: when and how to retry.
    :param rate_limiter: client-side rate limiting per Braze rate-limit group.
    :param pool_size: pooled connections kept open (at least the sender's concurrency).
    :param user_agent: ``User-Agent`` header.
    :param verify: TLS verification, as in requests (a CA bundle path or a bool).
    :param proxies: proxies, as in requests.
    :param sleep: a stand-in for the retry loop's waits, injectable for tests (default: sleep on
        the cancel token); the token is checked around it either way.
    :param observers: told of every answer for the client's whole life (metrics), as with :meth:`watch`.
    :param cancel_token: cancelling it stops every request of this client (default: its own token,
        see :meth:`cancel`).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: tuple[float, float] | None = None,
        retry_policy: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        pool_size: int = 16,
        user_agent: str = DEFAULT_USER_AGENT,
        verify: bool | str = True,
        proxies: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] | None = None,
        observers: Sequence[Callable[[Endpoint, float, int | None], None]] = (),
        cancel_token: CancelToken | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, retry_policy, user_agent)
        self.rate_limiter = rate_limiter or RateLimiter()
        self.pool_size = pool_size
        self._session_lock = threading.Lock()
        self._session: requests.Session | None = None
        self._observers: tuple[Callable[[Endpoint, float, int | None], None], ...] = tuple(observers)
        self._verify = verify
        self._proxies = dict(proxies or {})
        self._sleep = sleep
        self.cancel_token = cancel_token or CancelToken()
        self._adapter: AbortableAdapter | None = None

    @property
    def session(self) -> requests.Session:
        """The pooled session, created on first use (no I/O before a request is made)."""
        if self._session is None:
            with self._session_lock:
                if self._session is None:
                    self._session = self._new_session()
        return self._session

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        # Braze sets no cookies we need, and a shared cookie jar is the one part of a Session that
        # is not thread-safe: refuse all cookies so threads share only the connection pool.
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        # pool_block keeps at most pool_size sockets per host however many threads call in.
        adapter = AbortableAdapter(pool_connections=2, pool_maxsize=self.pool_size, pool_block=True, max_retries=0)
        self._adapter = adapter
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update(self._headers)
        # requests reads the environment (proxy variables, NO_PROXY, ~/.netrc, CA bundle variables) on
        # every request, which costs more than the request itself at Braze's rate; it is read once here.
        # (A ~/.netrc entry is never wanted: it would replace the Bearer header.)
        session.trust_env = False
        session.proxies.update({**requests.utils.get_environ_proxies(self.base_url), **self._proxies})
        session.verify = self._verify
        if self._verify is True:
            session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        return session

    @contextlib.contextmanager
    def watch(self, observer: Callable[[Endpoint, float, int | None], None]) -> Iterator[None]:
        """Tell ``observer`` of every answer while the block runs: ``(endpoint, seconds, status)``,
        status ``None`` when no answer came (the sender's in-flight window listens)."""
        with self._session_lock:
            self._observers = (*self._observers, observer)
        try:
            yield
        finally:
            with self._session_lock:
                self._observers = tuple(o for o in self._observers if o is not observer)

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop every request of this client: waits end at once and nothing more is sent.

        Requests already in flight go on until answered or :meth:`abort_requests`. Safe to call
        from a signal handler.

        :param reason: for the error each stopped request raises, e.g. ``export cancelled (SIGTERM)``.
        """
        self.cancel_token.cancel(reason)

    def abort_requests(self) -> int:
        """Shut the connections of requests in flight: each fails at once as a lost answer.

        For a cancelled send whose requests have had their grace. Returns the sockets shut.
        """
        adapter = self._adapter
        return adapter.abort() if adapter is not None else 0

    def close(self) -> None:
        """Close pooled connections."""
        with self._session_lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def request(
        self,
        endpoint: str | Endpoint,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        cancel: CancelToken | None = None,
    ) -> BrazeResponse:
        """Send one request with rate limiting and retries; return the 2xx response.

        :param endpoint: catalogue name or :class:`Endpoint`.
        :param json_body: a JSON-serialisable body (or use ``data``).
        :param data: an already encoded JSON body (the batcher encodes once to measure it).
        :param params: query parameters (lists become repeated keys, as Braze's ``external_id[]``).
        :param path_params: values for the path template.
        :param idempotent: overrides the catalogue's view of whether the body is safe to resend.
        :param cancel: the token that stops this request (a send's own; default: the client's).
        :raises BrazeAPIError: the typed error for a non-2xx answer after retries.
        :raises BrazeTransportError: no answer after retries (``BrazeConnectError``: never sent).
        :raises BrazeAmbiguousOutcomeError: a request that is not safe to resend failed after an
            attempt Braze may have applied (answer lost after sending, 502, 504).
        :raises BrazeRateLimitWaitError: Braze (a 429, or the rate limiter it steers) asked for a wait
            longer than what is left of ``max_retry_seconds``.
        :raises BrazeCancelledError: the token was cancelled before the request got an answer.
        """
        call = Exchange.prepare(
            self.base_url, endpoint, json_body=json_body, data=data, path_params=path_params, idempotent=idempotent
        )
        group = call.endpoint.rate_limit_group
        token = cancel or self.cancel_token
        policy = self.retry_policy

        def attempt() -> BrazeResponse:
            token.raise_if_cancelled()  # nothing leaves once the send is cancelled
            try:
                self.rate_limiter.acquire(group, within=call.budget_left(policy), cancel=token)
            except BrazeRateLimitWaitError as exc:
                call.refuse_long_wait(exc, policy)  # names the request and its budget, and raises
                raise
            call.attempt_started()
            try:
                return self._send_once(call, params)
            except BrazeError as exc:
                call.attempt_failed(exc)
                call.refuse_long_wait(exc, policy)
                raise
            finally:
                self.rate_limiter.release(group)

        retrying = policy.retrying(
            idempotent=call.idempotent, describe=call.describe, sleep=token.sleeper(self._sleep), secrets=self._secrets
        )
        try:
            response = retrying(attempt)
        except BrazeError as exc:
            call.gave_up(exc, self.retry_policy.retry_ambiguous)
        return call.succeeded(response)

    def _send_once(self, call: Exchange, params: Mapping[str, Any] | None) -> BrazeResponse:
        ep = call.endpoint
        started = time.monotonic()
        try:
            resp = self.session.request(
                ep.method, call.url, data=call.data, params=params, headers=call.headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            self._tell(ep, time.monotonic() - started, None)
            mapped = from_requests(exc)
            if mapped is None:
                raise
            raise mapped from exc
        self._tell(ep, time.monotonic() - started, resp.status_code)
        self.rate_limiter.observe(ep.rate_limit_group, RateLimitHeaders.parse(resp.headers))
        log.debug("%s -> %s in %.3f s", call.describe(), resp.status_code, time.monotonic() - started)
        try:
            return call.answer(resp.status_code, response_body(resp), resp.reason, resp.headers, self._key)
        except BrazeRateLimitError as error:
            if error.reset_at is not None:
                self.rate_limiter.pause(ep.rate_limit_group, error.reset_at)
            raise

    def _tell(self, ep: Endpoint, seconds: float, status: int | None) -> None:
        for observer in self._observers:
            observer(ep, seconds, status)
