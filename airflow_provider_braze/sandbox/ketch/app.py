"""The sandbox's HTTP side: one FastAPI app.

* ``/web/v2/...`` and ``/web/v3/...``: the Web API (:mod:`.web_api_routes`), open to browsers (CORS ``*``).
* ``POST /callbacks/{request_id}``: rights request status events (:mod:`.callback_recorder`).
* ``/_sandbox/...``: inspection and steering (:mod:`.inspection`).

Errors of the callback route are Ketch ``Error`` envelopes (``apiVersion`` ``dsr/v1``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from airflow_provider_braze.ketch.models import Error, ErrorBody
from airflow_provider_braze.ketch.receiver import BodyTooLarge, read_capped_body
from airflow_provider_braze.sandbox.ketch.callback_recorder import CallbackRefused
from airflow_provider_braze.sandbox.ketch.inspection import inspection_router
from airflow_provider_braze.sandbox.ketch.web_api_routes import web_api_router

if TYPE_CHECKING:
    from airflow_provider_braze.sandbox.ketch.sandbox import KetchSandbox

#: Largest status event accepted: several inline results of up to 3.5 MB each, base64-encoded.
MAX_CALLBACK_BYTES = 16 * 1024 * 1024
WEB_API_VERSIONS = ("/web/v2", "/web/v3")


def _error(code: int, status: str, message: str) -> JSONResponse:
    body = ErrorBody(code=code, status=status, message=message)
    envelope = Error(api_version="dsr/v1", error=body)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
    return JSONResponse(envelope.to_dict(), status_code=code, headers=headers)


def create_app(sandbox: KetchSandbox) -> FastAPI:
    """The app serving ``sandbox``."""
    app = FastAPI(title="Ketch sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    # The Web API is called from web pages with mode 'cors' and no credentials.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"])
    web = web_api_router(sandbox)
    for prefix in WEB_API_VERSIONS:
        app.include_router(web, prefix=prefix)
    app.include_router(inspection_router(sandbox), prefix="/_sandbox")

    @app.post("/callbacks/{request_id}")
    async def callback(request_id: str, request: Request) -> Response:
        try:
            raw = await read_capped_body(request, MAX_CALLBACK_BYTES)
        except BodyTooLarge:
            return _error(413, "invalid", f"body larger than {MAX_CALLBACK_BYTES} bytes")
        except ValueError as exc:
            return _error(400, "invalid", str(exc))
        try:
            record = sandbox.callback_recorder.receive(request_id, request.headers.get("authorization"), raw)
        except CallbackRefused as refused:
            return _error(refused.code, refused.status, refused.message)
        events = len(sandbox.callback_recorder.events(request_id))
        return JSONResponse({"requestID": request_id, "status": record.status, "events": events})

    return app
