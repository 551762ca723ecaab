"""One call to Braze across its attempts, decided the same way by the synchronous and async clients.

:class:`~airflow_provider_braze.braze.transport.BrazeClient` (requests, threads) and
:class:`~airflow_provider_braze.braze.async_transport.AsyncBrazeClient` (httpx, the triggerer's event
loop) differ only in how bytes travel. Everything they decide about a call lives here, so the two
cannot drift apart:

- what is sent: the URL, the JSON body and whether it is safe to resend (:meth:`Exchange.prepare`);
- what an answer means: a 2xx is a :class:`BrazeResponse`, anything else the project's typed error
  (:meth:`Exchange.answer`); transport failures are classified in
  :mod:`~airflow_provider_braze.braze.transport_errors`;
- what is reported at the end: how many attempts it took, how many earlier attempts Braze may also
  have applied, and when the call gave up, whether that was after an attempt Braze may have applied
  (:meth:`Exchange.gave_up`: a :class:`~airflow_provider_braze.braze.errors.BrazeAmbiguousOutcomeError`);
- how long it may still wait: the retry policy's ``max_delay`` (``max_retry_seconds``) counts from
  the call's start, and a 429 asking for a longer wait fails the call at once
  (:meth:`Exchange.refuse_long_wait`) instead of sleeping past it.

Braze has no idempotency key, so an events request whose answer was lost may be stored already:
https://www.braze.com/docs/api/errors/
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from airflow_provider_braze.braze.endpoints import Endpoint, get_endpoint
from airflow_provider_braze.braze.errors import (
    BrazeAmbiguousOutcomeError,
    BrazeError,
    BrazeRateLimitError,
    BrazeRateLimitWaitError,
)
from airflow_provider_braze.braze.rate_limit_headers import RateLimitHeaders, describe_reset
from airflow_provider_braze.braze.responses import error_from_response, redact_body
from airflow_provider_braze.braze.retry import RetryPolicy, is_ambiguous

log = logging.getLogger(__name__)

_JSON = {"Content-Type": "application/json"}


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


@dataclass
class Exchange:
    """One call: the request both clients send, and the attempts it took.

    :param endpoint: the catalogue entry.
    :param url: the full URL.
    :param data: the encoded JSON body, if any.
    :param idempotent: whether the body is safe to send twice.
    """

    endpoint: Endpoint
    url: str
    data: bytes | None
    idempotent: bool
    attempts: int = 0
    maybe_applied: int = 0  # failed attempts that Braze may have applied
    started: float = field(default_factory=time.monotonic)  # the retry budget counts from here

    @classmethod
    def prepare(
        cls,
        base_url: str,
        endpoint: str | Endpoint,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        path_params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> Exchange:
        """The call to make.

        :param base_url: the workspace's REST base URL, without a trailing slash.
        :param endpoint: catalogue name or :class:`Endpoint`.
        :param json_body: a JSON-serialisable body (ignored when ``data`` is given).
        :param data: an already encoded JSON body (the batcher encodes once to measure it).
        :param path_params: values for the path template.
        :param idempotent: overrides the catalogue's view of whether the body is safe to resend.
        """
        ep = get_endpoint(endpoint)
        if data is None and json_body is not None:
            data = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False).encode()
        if idempotent is None:
            idempotent = ep.is_idempotent(json_body if isinstance(json_body, Mapping) else None)
        return cls(ep, base_url + ep.format_path(**(path_params or {})), data, idempotent)

    @property
    def headers(self) -> Mapping[str, str] | None:
        """Headers of this call beyond the client's own (the body's type)."""
        return _JSON if self.data is not None else None

    def describe(self) -> str:
        """``METHOD /path``, for log lines (never the query string or body)."""
        return f"{self.endpoint.method} {self.endpoint.path}"

    def attempt_started(self) -> None:
        self.attempts += 1

    def attempt_failed(self, error: BrazeError) -> None:
        """Count a failed attempt; one that Braze may have applied makes a later failure ambiguous."""
        self.maybe_applied += is_ambiguous(error)

    def budget_left(self, policy: RetryPolicy) -> float:
        """Seconds this call may still wait: ``max_delay`` less the time since it started."""
        return policy.max_delay - (time.monotonic() - self.started)

    def refuse_long_wait(self, error: BaseException, policy: RetryPolicy) -> None:
        """Fail the call now when the wait ``error`` asks for cannot fit in what is left of the budget.

        A 429 names its wait (``X-RateLimit-Reset``); one beyond the budget would only end the
        retries after the attempt, so it ends them now, with an error that says how long Braze
        asked for. A wait the rate limiter refused (``BrazeRateLimitWaitError``) gets the request's
        name and budget. Either way it is logged as a warning.

        :raises BrazeRateLimitWaitError: the wait does not fit.
        """
        cause: BaseException | None = error
        if isinstance(error, BrazeRateLimitWaitError):
            refusal, cause = error.for_request(self.describe(), policy.max_delay), None
        elif isinstance(error, BrazeRateLimitError):
            asked = policy.requested_wait(error)
            left = self.budget_left(policy)
            # The policy adds up to reset_jitter to the wait: the retry must fit with it.
            if asked is None or asked + policy.reset_jitter < left:
                return
            group = self.endpoint.rate_limit_group
            reset = describe_reset(error.reset_at)
            why = f"Braze asked to wait {asked:,.0f} s (HTTP 429, {reset}, rate-limit group {group})"
            refusal = BrazeRateLimitWaitError(
                asked, why, group=group, request=self.describe(), max_retry_seconds=policy.max_delay, left=max(left, 0)
            )
        else:
            return
        log.warning("%s", refusal)
        raise refusal from cause

    def answer(
        self, status: int, body: dict[str, Any], reason: str | None, headers: Mapping[str, str], api_key: str
    ) -> BrazeResponse:
        """A 2xx answer as a response; anything else raised as the project's typed error.

        :param api_key: redacted from every string of the body (it may reach exception text, logs and
            rejected-row files), whatever the server echoes.
        :raises BrazeAPIError: the typed error for the status.
        """
        body = redact_body(body, api_key)
        if 200 <= status < 300:
            return BrazeResponse(status, body, headers)
        raise error_from_response(status, body, reason, self.endpoint.name, headers, api_key)

    def succeeded(self, response: BrazeResponse) -> BrazeResponse:
        """The final response, with how many attempts it took and how many may have counted too."""
        response.attempts = self.attempts
        response.ambiguous_attempts = 0 if self.idempotent else self.maybe_applied
        return response

    def gave_up(self, error: BrazeError, retry_ambiguous: bool) -> NoReturn:
        """Raise the call's final error once the retries ended with ``error``.

        A call that is not safe to resend and had an attempt Braze may have applied ends in a
        :class:`BrazeAmbiguousOutcomeError`, whatever the last attempt's error: its rows must be
        reported as of unknown outcome, never as failed and resent. Any other call raises ``error``.

        :param retry_ambiguous: whether ambiguous attempts were sent again.
        """
        if self.maybe_applied and not self.idempotent:
            raise ambiguous_outcome(self.endpoint, error, retry_ambiguous) from error
        raise error


def ambiguous_outcome(ep: Endpoint, error: BaseException, resent: bool) -> BrazeAmbiguousOutcomeError:
    """The error for a request that is not safe to resend and may have been applied.

    :param error: the last attempt's error.
    :param resent: whether ambiguous attempts were sent again (``retry_ambiguous``).
    """
    why = (
        "was sent again (retry_ambiguous) and still failed"
        if resent
        else (
            "was not resent because it carries events, purchases or increments that would count twice "
            "(set retry_ambiguous to resend anyway)"
        )
    )
    return BrazeAmbiguousOutcomeError(
        f"{ep.method} {ep.path} may have been applied by Braze although no success answer came back "
        f"(last: {error}); it {why}."
    )
