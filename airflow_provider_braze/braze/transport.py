"""HTTP transport to Braze: one pooled session, Bearer auth, rate limiting and retries per request."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import logging
import os
import platform
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_braze import __version__
from airflow_provider_braze.braze.endpoints import Endpoint, get_endpoint
from airflow_provider_braze.braze.errors import (
    BrazeAmbiguousOutcomeError,
    BrazeConfigurationError,
    BrazeError,
    BrazeRateLimitError,
)
from airflow_provider_braze.braze.rate_limit import RateLimiter
from airflow_provider_braze.braze.rate_limit_headers import RateLimitHeaders
from airflow_provider_braze.braze.responses import error_from_response, response_body
from airflow_provider_braze.braze.retry import RetryPolicy, is_ambiguous
from airflow_provider_braze.braze.transport_errors import from_requests

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = f"airflow-provider-braze/{__version__} python/{platform.python_version()}"


@dataclass
class BrazeResponse:
    """A successful (2xx) Braze response.

    :param status_code: the HTTP status.
    :param body: the parsed JSON body (an empty dict when there was none).
    :param headers: response headers.
    :param attempts: how many attempts the request took.
    :param ambiguous_attempts: for a request that is not safe to resend, the earlier attempts Braze
        may also have applied (only with ``retry_ambiguous``): its events may be stored that many
        extra times.
    """

    status_code: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    attempts: int = 1
    ambiguous_attempts: int = 0

    @property
    def errors(self) -> list[Any]:
        """The non-fatal ``errors`` Braze listed (objects it did not process)."""
        errors = self.body.get("errors")
        return errors if isinstance(errors, list) else []

    @property
    def rate_limit(self) -> RateLimitHeaders:
        return RateLimitHeaders.parse(self.headers)


class BrazeClient:
    """Sends requests to one Braze workspace.

    Thread-safe: one instance is shared by the sender's thread pool. The API key lives only in the
    session's headers; it never appears in ``repr``, log lines or exception text.

    :param base_url: REST base URL (see :func:`~airflow_provider_braze.braze.instances.resolve_base_url`).
    :param api_key: the REST API key.
    :param timeout: ``(connect, read)`` seconds per attempt.
    :param retry_policy: when and how to retry.
    :param rate_limiter: client-side rate limiting per Braze rate-limit group.
    :param pool_size: pooled connections kept open (at least the sender's concurrency).
    :param user_agent: ``User-Agent`` header.
    :param verify: TLS verification, as in requests (a CA bundle path or a bool).
    :param proxies: proxies, as in requests.
    :param sleep: how the retry loop waits; injectable for tests.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: tuple[float, float] = (10.0, 60.0),
        retry_policy: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        pool_size: int = 16,
        user_agent: str = DEFAULT_USER_AGENT,
        verify: bool | str = True,
        proxies: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        key = clean_api_key(api_key)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry_policy = retry_policy or RetryPolicy()
        self.rate_limiter = rate_limiter or RateLimiter()
        self.pool_size = pool_size
        self._session_lock = threading.Lock()
        self._session: requests.Session | None = None
        self._headers = {
            "Authorization": f"Bearer {key}",
            "User-Agent": user_agent,
            "Accept": "application/json",
        }
        self._key = key
        self._observers: tuple[Callable[[Endpoint, float, int | None], None], ...] = ()
        self._verify = verify
        self._proxies = dict(proxies or {})
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key='***')"

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
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=self.pool_size, pool_block=True, max_retries=0)
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
    ) -> BrazeResponse:
        """Send one request with rate limiting and retries; return the 2xx response.

        :param endpoint: catalogue name or :class:`Endpoint`.
        :param json_body: a JSON-serialisable body (or use ``data``).
        :param data: an already encoded JSON body (the batcher encodes once to measure it).
        :param params: query parameters (lists become repeated keys, as Braze's ``external_id[]``).
        :param path_params: values for the path template.
        :param idempotent: overrides the catalogue's view of whether the body is safe to resend.
        :raises BrazeAPIError: the typed error for a non-2xx answer after retries.
        :raises BrazeTransportError: no answer after retries (``BrazeConnectError``: never sent).
        :raises BrazeAmbiguousOutcomeError: a request that is not safe to resend failed after an
            attempt Braze may have applied (answer lost after sending, 502, 504).
        """
        ep = get_endpoint(endpoint)
        if data is None and json_body is not None:
            data = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False).encode()
        if idempotent is None:
            idempotent = ep.is_idempotent(json_body if isinstance(json_body, Mapping) else None)
        url = self.base_url + ep.format_path(**(path_params or {}))
        attempts = 0
        maybe_applied = 0  # earlier attempts Braze may have applied

        def attempt() -> BrazeResponse:
            nonlocal attempts, maybe_applied
            attempts += 1
            self.rate_limiter.acquire(ep.rate_limit_group)
            try:
                return self._send_once(ep, url, data, params)
            except BrazeError as exc:
                maybe_applied += is_ambiguous(exc)
                raise
            finally:
                self.rate_limiter.release(ep.rate_limit_group)

        retrying = self.retry_policy.retrying(
            idempotent=idempotent, describe=lambda: f"{ep.method} {ep.path}", sleep=self._sleep
        )
        try:
            response = retrying(attempt)
        except BrazeError as exc:
            if maybe_applied and not idempotent:
                raise ambiguous_outcome(ep, exc, self.retry_policy.retry_ambiguous) from exc
            raise
        response.attempts = attempts
        response.ambiguous_attempts = 0 if idempotent else maybe_applied
        return response

    def _send_once(self, ep: Endpoint, url: str, data: bytes | None, params: Mapping[str, Any] | None):
        headers = {"Content-Type": "application/json"} if data is not None else None
        started = time.monotonic()
        try:
            resp = self.session.request(
                ep.method, url, data=data, params=params, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            self._tell(ep, time.monotonic() - started, None)
            mapped = from_requests(exc)
            if mapped is None:
                raise
            raise mapped from exc
        self._tell(ep, time.monotonic() - started, resp.status_code)
        body = response_body(resp)
        rate = RateLimitHeaders.parse(resp.headers)
        self.rate_limiter.observe(ep.rate_limit_group, rate)
        log.debug("%s %s -> %s in %.3f s", ep.method, ep.path, resp.status_code, time.monotonic() - started)
        if 200 <= resp.status_code < 300:
            return BrazeResponse(resp.status_code, body, resp.headers)
        error = error_from_response(resp.status_code, body, resp.reason, ep.name, resp.headers, self._key)
        if isinstance(error, BrazeRateLimitError) and error.reset_at is not None:
            self.rate_limiter.pause(ep.rate_limit_group, error.reset_at)
        raise error


    def _tell(self, ep: Endpoint, seconds: float, status: int | None) -> None:
        for observer in self._observers:
            observer(ep, seconds, status)


def ambiguous_outcome(ep: Endpoint, error: BaseException, resent: bool) -> BrazeAmbiguousOutcomeError:
    """The error for a request that is not safe to resend and may have been applied.

    :param error: the last attempt's error.
    :param resent: whether ambiguous attempts were sent again (``retry_ambiguous``).
    """
    why = "was sent again (retry_ambiguous) and still failed" if resent else (
        "was not resent because it carries events, purchases or increments that would count twice "
        "(set retry_ambiguous to resend anyway)"
    )
    return BrazeAmbiguousOutcomeError(
        f"{ep.method} {ep.path} may have been applied by Braze although no success answer came back "
        f"(last: {error}); it {why}."
    )


def clean_api_key(api_key: str | None) -> str:
    """Strip whitespace and quotes pasted around a key (Braze answers 401 to a quoted key)."""
    key = (api_key or "").strip().strip("'\"").strip()
    if not key:
        raise BrazeConfigurationError("The Braze connection has no REST API key (set it as the password).")
    return key
