"""The sync history's FastAPI app: the pages and the JSON API, every route behind Airflow's auth manager.

Apps that plugins mount in the API server are not protected by Airflow: each route here depends on
Airflow's own :func:`airflow.api_fastapi.core_api.security.get_user`, which reads the JWT the UI keeps
in its ``_token`` cookie (the pages, opened from the UI's navigation) or an ``Authorization: Bearer``
header (scripts, with a token from ``POST /auth/token``), and asks the configured auth manager to
validate it. Without one: 401 (403 for a token that is not valid); a page says where to log in.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_braze.ui import api, pages, views


def create_app() -> FastAPI:
    """Build the app (mounted at ``/braze`` by :class:`~airflow_provider_braze.ui.plugin.BrazeSyncHistoryPlugin`)."""
    from airflow.api_fastapi.core_api.security import get_user

    app = FastAPI(
        title="Braze sync history",
        description="The export syncs in the Braze provider's sync ledger: their runs and the rows Braze never took.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    authenticated = [Depends(get_user)]
    app.include_router(views.router, dependencies=authenticated)
    app.include_router(api.router, dependencies=authenticated)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app


def _is_api(request: Request) -> bool:
    root = request.scope.get("root_path", "")
    path = request.scope.get("path", "")
    return path[len(root) :].startswith("/api/") if path.startswith(root) else path.startswith("/api/")


def _login_url(request: Request) -> str | None:
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager().get_url_login(next_url=str(request.url))
    except Exception:  # noqa: BLE001 - without an auth manager there is no login page to offer
        return None


async def _http_error(request: Request, exc: Any) -> Response:
    """Errors as JSON for the API and as a short page for people (the same status either way)."""
    headers = getattr(exc, "headers", None)
    if _is_api(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
    if exc.status_code in (401, 403):
        login = _login_url(request)
        body = pages.message_page(
            "Log in to Airflow first",
            "The Braze sync history shows only to users logged in to Airflow"
            + (" whose session is valid." if exc.status_code == 403 else "."),
            link=(login, "Log in") if login else None,
        )
    else:
        title = "Not found" if exc.status_code == 404 else f"Error {exc.status_code}"
        body = pages.message_page(title, str(exc.detail))
    return HTMLResponse(body, status_code=exc.status_code, headers=headers)
