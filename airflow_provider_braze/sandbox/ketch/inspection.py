"""``/_sandbox/*``: look inside and steer a Ketch sandbox that runs in another process.

No authentication; the server listens on 127.0.0.1 only. Callback credentials are masked.

* ``GET /_sandbox/state``: Web API state per organization, webhooks sent (body, every try, the
  receiver's last answer), rights requests with their status events, refused callbacks.
* ``POST /_sandbox/reset``: forget all of that (configuration stays).
* ``GET /_sandbox/callbacks/{request_id}``: one request's status events and merged access document.
* ``POST /_sandbox/send/{kind}``: send one webhook; ``kind`` is ``subscription``, ``control``,
  ``consent``, ``delete`` or ``access`` and the body holds the arguments of the matching
  ``send_*`` method (``{"identity": ..., "topic": ..., "channel": ..., "status": ...}``).
* ``POST /_sandbox/streams/random``: plan and deliver a random stream (arguments of
  ``random_preference_stream`` plus ``concurrency``); answers the counts and ``expected_state`` as
  ``[[identity, topic, channel, status], ...]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from airflow_provider_braze.sandbox.ketch.sandbox import KetchSandbox

_SENDERS = {
    "subscription": "send_subscription_change",
    "control": "send_control",
    "consent": "send_consent",
    "delete": "send_delete_request",
    "access": "send_access_request",
    "correction": "send_correction_request",
    "restriction": "send_restrict_processing_request",
}


def _bad(message: str, code: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=code)


def inspection_router(sandbox: KetchSandbox) -> APIRouter:
    """Routes under ``/_sandbox``."""
    router = APIRouter()

    @router.get("/state")
    def state() -> dict[str, Any]:
        return sandbox.state()

    @router.post("/reset")
    def reset() -> dict[str, str]:
        sandbox.reset()
        return {"message": "success"}

    @router.get("/callbacks/{request_id}")
    def callbacks(request_id: str) -> dict[str, Any]:
        return {
            "request_id": request_id,
            "events": [e.to_dict() for e in sandbox.callbacks(request_id)],
            "access_document": sandbox.access_document(request_id),
        }

    @router.post("/send/{kind}")
    def send(kind: str, arguments: dict[str, Any] = Body(default_factory=dict)) -> Any:  # noqa: B008 - FastAPI idiom
        method = _SENDERS.get(kind)
        if method is None:
            return _bad(f"unknown kind {kind!r}; expected one of {', '.join(_SENDERS)}", 404)
        try:
            delivery = getattr(sandbox, method)(**arguments)
        except (TypeError, ValueError, RuntimeError) as exc:
            return _bad(f"cannot send: {type(exc).__name__}: {exc}")
        return delivery.to_dict()

    @router.post("/streams/random")
    def random_stream(arguments: dict[str, Any] = Body(default_factory=dict)) -> Any:  # noqa: B008
        arguments = dict(arguments)
        concurrency = int(arguments.pop("concurrency", 1))
        try:
            stream = sandbox.random_preference_stream(**arguments)
            report = sandbox.deliver(stream, concurrency=concurrency)
        except (TypeError, ValueError, RuntimeError) as exc:
            return _bad(f"cannot send the stream: {type(exc).__name__}: {exc}")
        return {
            "stream": stream.summary(),
            "delivery": report.summary(),
            "expected_state": [[*key, status] for key, status in stream.expected_state().items()],
        }

    return router
