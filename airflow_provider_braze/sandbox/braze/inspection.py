"""``/_sandbox/*``: look inside and steer a sandbox that runs in another process.

No authentication, no rate limit, never logged or counted as Braze traffic; the server listens on
127.0.0.1 only.

* ``GET /_sandbox/state``: profiles, events, purchases, email lists, data points, counters, CDI.
* ``GET /_sandbox/counts``: how many profiles, events and purchases, data points, counters, and
  answers by HTTP status (cheap, kept in fast mode too).
* ``GET /_sandbox/requests``: the request log (``?limit=N`` for the last N).
* ``GET /_sandbox/faults``; ``POST /_sandbox/faults`` with any of the fault knobs (and
  ``rate_limit_storm_for``): returns the settings now in force.
* ``POST /_sandbox/reset``: forget all data, logs, windows and faults (configuration stays).
* ``POST /_sandbox/rate_limits``: ``{"users_track": {"limit": 5, "period": 1.0}, ...}``; a ``start``
  (epoch seconds) begins the group's windows then instead of on the period's boundaries.
* ``POST /_sandbox/cdi/integrations``: add an integration (``add_cdi_integration`` arguments);
  ``POST /_sandbox/cdi/integrations/<id>``: change how its next syncs go.
* ``POST /_sandbox/subscription_groups``: ``{"subscription_group_id", "channel", "name"}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_provider_braze.sandbox.braze.messages import Request, Response, error

if TYPE_CHECKING:
    from airflow_provider_braze.sandbox.braze.sandbox import BrazeSandbox

PREFIX = "/_sandbox/"


def is_inspection(path: str) -> bool:
    return path.startswith(PREFIX)


def _json_body(request: Request) -> dict[str, Any] | Response:
    raw = request.body.read(10_000_000)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return error(400, "Invalid JSON")
    return body if isinstance(body, dict) else error(400, "JSON object expected")


def handle(sandbox: BrazeSandbox, request: Request) -> Response:
    """Serve one inspection request."""
    name = request.path[len(PREFIX) :].strip("/")
    method = request.method
    try:
        if method == "GET" and name == "state":
            return Response(200, sandbox.state())
        if method == "GET" and name == "counts":
            return Response(200, {**sandbox.store.counts(), "responses": sandbox.app.statuses.to_dict()})
        if method == "GET" and name == "requests":
            records = [r.to_dict() for r in sandbox.requests.records()]
            limit = request.query.get("limit")
            return Response(200, {"requests": records[-int(limit[-1]) :] if limit else records})
        if method == "GET" and name == "faults":
            return Response(200, sandbox.faults.to_dict())
        if method != "POST":
            return error(404, f"Not Found: {method} {request.path}")
        body = _json_body(request)
        if isinstance(body, Response):
            return body
        if name == "faults":
            return Response(200, sandbox.faults.update(**body).to_dict())
        if name == "reset":
            sandbox.reset()
            return Response(200, {"message": "success"})
        if name == "rate_limits":
            for group, spec in body.items():
                sandbox.set_rate_limit(group, limit=spec["limit"], period=spec["period"], start=spec.get("start"))
            return Response(200, {"message": "success", "rate_limits": sandbox.rate_limits.to_dict()})
        if name == "cdi/integrations":
            return Response(201, {"message": "success", "integration_id": sandbox.add_cdi_integration(**body)})
        if name.startswith("cdi/integrations/"):
            sandbox.configure_cdi_integration(name.rsplit("/", 1)[1], **body)
            return Response(200, {"message": "success"})
        if name == "subscription_groups":
            sandbox.add_subscription_group(**body)
            return Response(201, {"message": "success"})
    except (KeyError, TypeError, ValueError) as exc:
        return error(400, f"Bad sandbox request: {exc}")
    return error(404, f"Not Found: {method} {request.path}")
