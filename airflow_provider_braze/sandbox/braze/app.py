"""The emulator proper: one request in, one response out, in the order Braze's edge would check things.

Order for a Braze path:

1. route by method and path from the catalogue (unknown: 404, no rate-limit headers);
2. injected faults, decided before anything else: a dropped connection, a 5xx, a storm 429,
   then a slow pause (nothing is applied for the first three);
3. the API key: ``Authorization: Bearer <key>``; missing, unknown, quoted, or only sent the legacy
   way (``api_key`` in the body or query string) is 401 without rate-limit headers;
4. the rate limit of the endpoint's group: the key names the workspace, so every request from here
   on counts and every response carries ``X-RateLimit-*``; over the limit is 429 ``Rate Limited``;
5. the key's permission (403 ``Access Denied``);
6. body size from ``Content-Length`` before reading (413), then ``Content-Type: application/json``
   for a non-empty body, JSON that is an object (400);
7. the catalogue's item limits and mixing rule (400, nothing applied);
8. the endpoint's handler (per-object errors, 2xx);
9. a ``processed_then_timeout`` fault turns the answer into a late 504, a ``processed_then_drop``
   fault into a closed connection; ``latency`` delays the answer.

Sandbox choices: a known path with the wrong method is 404; 403 and 413 count against the rate
limit (the workspace is known by then); the legacy ``api_key`` body field or URL parameter is
refused (Braze announced its sunset); ``Bearer`` is matched case-sensitively.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any, cast

from airflow_provider_braze.braze.endpoints import Endpoint
from airflow_provider_braze.sandbox.braze import request_rules
from airflow_provider_braze.sandbox.braze.cdi_api import CdiState
from airflow_provider_braze.sandbox.braze.context import Call, Settings
from airflow_provider_braze.sandbox.braze.faults import Draw, FaultDice, Faults
from airflow_provider_braze.sandbox.braze.handlers import handler_for
from airflow_provider_braze.sandbox.braze.messages import BodyTooLarge, Request, Response, error
from airflow_provider_braze.sandbox.braze.ratelimits import WorkspaceRateLimits, storm_headers
from airflow_provider_braze.sandbox.braze.requestlog import RequestLog, RequestRecord, StatusCounts, mask_key
from airflow_provider_braze.sandbox.braze.routing import route
from airflow_provider_braze.sandbox.braze.store import UserStore

log = logging.getLogger(__name__)

_SERVER_ERRORS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class BrazeApp:
    """Braze's REST API over one in-memory workspace.

    :param api_keys: ``{key: permissions}``; ``None`` grants every permission.
    :param store: the workspace's profiles and lists.
    :param limiter: the workspace's rate-limit windows.
    :param faults: live fault settings.
    :param dice: the seeded generator that decides faults.
    :param request_log: where answered requests are recorded (``None``: not recorded).
    :param settings: workspace settings (array lengths, export rules).
    :param cdi: the workspace's CDI integrations.
    :param latency: seconds added before every answer.
    :param endpoints: per-sandbox variants of catalogue entries (other item limits), by name.
    """

    def __init__(
        self,
        *,
        api_keys: Mapping[str, Iterable[str] | None],
        store: UserStore,
        limiter: WorkspaceRateLimits,
        faults: Faults,
        dice: FaultDice,
        request_log: RequestLog | None,
        settings: Settings,
        cdi: CdiState,
        latency: float = 0.0,
        endpoints: Mapping[str, Endpoint] | None = None,
    ) -> None:
        self.api_keys = {k: (None if v is None else frozenset(v)) for k, v in api_keys.items()}
        self.store, self.limiter, self.faults, self.dice = store, limiter, faults, dice
        self.request_log, self.settings, self.cdi = request_log, settings, cdi
        self.latency = latency
        self.endpoints = dict(endpoints or {})
        self.statuses = StatusCounts()

    def handle(self, request: Request) -> Response:
        """Answer one request to a Braze path (inspection paths are served elsewhere)."""
        matched = route(request.method, request.path)
        if matched is None:
            response = error(404, f"Not Found: {request.method} {request.path}")
            self._record(request, None, response, None, None, Draw())
            return response
        endpoint = self.endpoints.get(matched.endpoint.name, matched.endpoint)
        draw = self._roll(endpoint)
        key = self._bearer(request)
        body: dict[str, Any] | None = None
        try:
            response, body = self._process(request, endpoint, matched.params, draw, key)
        except Exception:  # a sandbox bug must surface as a 500, not a dead connection
            log.exception("Braze sandbox failed on %s %s", request.method, request.path)
            response = error(500, "Internal Server Error (sandbox)")
        if self.latency and not response.drop:
            response.delay += self.latency
        self._record(request, endpoint, response, body, key, draw)
        return response

    # --- pipeline ---------------------------------------------------------------------------------

    def _roll(self, endpoint: Endpoint) -> Draw:
        return self.dice.roll(self.faults, endpoint.name)

    def _process(
        self, request: Request, endpoint: Endpoint, params: dict[str, str], draw: Draw, key: str | None
    ) -> tuple[Response, dict[str, Any] | None]:
        if draw.drop:
            return Response(0, drop=True), None
        if draw.error_status is not None:
            status = draw.error_status
            return error(status, _SERVER_ERRORS.get(status, "Server Error")), None
        group = endpoint.rate_limit_group
        if draw.storm:
            limit = self.limiter.limits(group)[0]
            return error(429, "Rate Limited", **storm_headers(limit, self.faults.rate_limit_storm_reset)), None
        if draw.slow:
            time.sleep(draw.slow)
        refusal = self._authenticate(request, key)
        if refusal is not None:
            return refusal, None
        decision = self.limiter.hit(group)
        # _authenticate refused a request without a key, so the key is set here.
        response, body = self._authorised(request, endpoint, params, cast(str, key), decision.allowed)
        response.headers.update(decision.headers())
        if draw.timeout is not None and 200 <= response.status < 300:
            late = error(504, _SERVER_ERRORS[504], **decision.headers())
            late.delay = draw.timeout
            return late, body
        if draw.lost and 200 <= response.status < 300:
            return Response(0, drop=True), body
        return response, body

    def _authorised(
        self, request: Request, endpoint: Endpoint, params: dict[str, str], key: str, allowed: bool
    ) -> tuple[Response, dict[str, Any] | None]:
        if not allowed:
            return error(429, "Rate Limited"), None
        permissions = self.api_keys[key]
        if permissions is not None and endpoint.permission not in permissions:
            return error(403, "Access Denied"), None
        body, refusal = self._read_body(request, endpoint)
        if refusal is not None:
            return refusal, body
        if body is not None:
            refusal = request_rules.check_limits(endpoint, body)
            if refusal is not None:
                return refusal, body
        handler = handler_for(endpoint.name)
        if handler is None:
            return error(501, f"{endpoint.path} is not emulated by the sandbox"), body
        call = Call(endpoint, params, request, body, self.store, self.settings, self.cdi)
        return handler(call), body

    def _bearer(self, request: Request) -> str | None:
        auth = request.header("Authorization") or ""
        return auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else None

    def _authenticate(self, request: Request, key: str | None) -> Response | None:
        if key is None:
            legacy = "api_key" in request.query
            hint = "the api_key parameter is no longer accepted; " if legacy else ""
            return error(401, f"Invalid API key: {hint}send 'Authorization: Bearer YOUR_REST_API_KEY'")
        if key[:1] in ("'", '"') or key[-1:] in ("'", '"'):
            return error(401, "Invalid API key: the key must not be quoted")
        if key not in self.api_keys:
            return error(401, "Invalid API key")
        return None

    def _read_body(self, request: Request, endpoint: Endpoint) -> tuple[dict[str, Any] | None, Response | None]:
        limit = endpoint.max_body_bytes
        too_large = error(413, f"Request Entity Too Large: the body must be at most {limit} bytes")
        if request.body.length is not None and request.body.length > limit:
            return None, too_large
        if request.method != "POST":
            return None, None
        try:
            raw = request.body.read(limit)
        except BodyTooLarge:
            return None, too_large
        if not raw.strip():
            return (None, None) if not endpoint.body_keys else (None, error(400, "Request body must be a JSON object"))
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return None, error(400, "Content-Type must be application/json")
        parsed = request_rules.parse_json_object(raw)
        if isinstance(parsed, Response):
            return None, parsed
        if "api_key" in parsed:
            return None, error(401, "Invalid API key: the api_key body field is no longer accepted")
        return parsed, None

    # --- request log ------------------------------------------------------------------------------

    def _record(
        self,
        request: Request,
        endpoint: Endpoint | None,
        response: Response,
        body: dict[str, Any] | None,
        key: str | None,
        draw: Draw,
    ) -> None:
        self.statuses.add(None if response.drop else response.status)
        if self.request_log is None:
            return
        self.request_log.append(
            RequestRecord(
                received_at=request.received_at,
                method=request.method,
                path=request.path,
                endpoint=endpoint.name if endpoint else None,
                status=None if response.drop else response.status,
                objects=request_rules.count_objects(endpoint, body) if endpoint else 0,
                key=mask_key(key),
                faults=tuple(draw.names),
            )
        )
