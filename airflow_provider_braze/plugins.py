"""An Airflow plugin that serves the Ketch webhook receiver inside the Airflow 3 API server.

Ketch then posts to ``https://<airflow-api-server>/ketch/webhook`` (``/ketch/health`` answers when
the state store is reachable). The receiver is built from the Ketch connection (``ketch_default``, or
the id in ``[ketch] receiver_conn_id``, e.g. ``AIRFLOW__KETCH__RECEIVER_CONN_ID``) at the first
request, not when the plugin loads: loading plugins must not need a connection or a database, so the
API server (and every other Airflow process that loads plugins) starts whether or not a Ketch
connection exists. Until the connection can be read, requests get ``503`` (Ketch retries) and the
reason is logged; it is read again on the next request after a short pause, so creating the
connection later needs no restart. Once built, the receiver keeps its token and store: restart the
API server after changing the connection.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_braze.asgi import Receive, Scope, Send, answer_lifespan

log = logging.getLogger(__name__)

#: Seconds between two attempts to build the receiver after a failure.
RETRY_SECONDS = 10.0


def receiver_conn_id() -> str:
    """The Ketch connection the plugin's receiver uses: ``[ketch] receiver_conn_id`` or ``ketch_default``."""
    from airflow.configuration import conf

    return conf.get("ketch", "receiver_conn_id", fallback="ketch_default") or "ketch_default"


class LazyKetchReceiver:
    """An ASGI app that builds the Ketch receiver from a Ketch connection at its first request.

    :param conn_id: the Ketch connection id; read from Airflow's configuration when ``None``.
    :param retry_seconds: pause between two attempts to build after a failure.
    :param clock: monotonic clock; replaced in tests.
    """

    def __init__(
        self,
        conn_id: str | None = None,
        *,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conn_id = conn_id
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._app: Any = None
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    @property
    def conn_id(self) -> str:
        return self._conn_id or receiver_conn_id()

    def _build(self) -> Any:
        """Build the receiver once (in a worker thread: reading a connection may query the database)."""
        with self._lock:
            if self._app is not None:
                return self._app
            if self._failed_at is not None and self._clock() - self._failed_at < self._retry_seconds:
                return None
            from airflow_provider_braze.hooks.ketch import KetchHook

            hook = KetchHook(ketch_conn_id=self.conn_id)
            try:
                app = hook.create_receiver_app(prefix="")
            except Exception as exc:  # the API server must keep serving everything else
                self._failed_at = self._clock()
                log.warning(
                    "Ketch webhook receiver unavailable (answering 503): connection %r: %s: %s",
                    self.conn_id,
                    type(exc).__name__,
                    hook.redact(str(exc)),
                )
                return None
            log.info("Ketch webhook receiver ready for connection %r", self.conn_id)
            self._app = app
            return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        app = self._app or await asyncio.to_thread(self._build)
        if app is None:
            await self._unavailable(scope, send)
            return
        await app(scope, receive, send)

    async def _unavailable(self, scope: Scope, send: Send) -> None:
        if scope["type"] != "http":
            return
        from fastapi.responses import JSONResponse

        from airflow_provider_braze.ketch.models import Error, ErrorBody

        body = Error(error=ErrorBody(code=503, status="unavailable", message="the Ketch receiver is not configured"))
        response = JSONResponse(body.to_dict(), status_code=503, headers={"Retry-After": str(int(self._retry_seconds))})
        await response(scope, _no_body, send)


async def _no_body() -> MutableMapping[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


#: The receiver mounted by :class:`KetchReceiverPlugin`.
ketch_receiver = LazyKetchReceiver()


class KetchReceiverPlugin(AirflowPlugin):
    """Mounts the Ketch webhook receiver at ``/ketch`` in the Airflow 3 API server."""

    name = "braze_ketch_receiver"
    # Airflow's AirflowPlugin declares this list as a plain attribute; the plugin manager only reads it.
    fastapi_apps = [{"app": ketch_receiver, "url_prefix": "/ketch", "name": "Ketch webhook receiver"}]  # noqa: RUF012
