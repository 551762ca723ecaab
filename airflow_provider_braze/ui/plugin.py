"""The Airflow plugin that serves the sync history page in the Airflow 3 API server, listed in the UI's navigation.

Every Airflow process loads plugins (scheduler, workers, the DAG processor), so loading this one
imports no FastAPI app and reads no database or connection: the app is built at the first request
the API server routes to ``/braze``, and each request reads the state store named then
(:mod:`.store`).
"""

from __future__ import annotations

import threading
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_braze.asgi import Receive, Scope, Send, answer_lifespan

#: Where the app is mounted, and the page the navigation entry opens.
URL_PREFIX = "/braze"
SYNCS_PATH = f"{URL_PREFIX}/syncs"


class LazySyncHistoryApp:
    """An ASGI app that builds the sync history app (:func:`~.app.create_app`) at its first request."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        with self._lock:
            if self._app is None:
                from airflow_provider_braze.ui.app import create_app

                self._app = create_app()
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        await (self._app or self._build())(scope, receive, send)


#: The app mounted by :class:`BrazeSyncHistoryPlugin`.
sync_history_app = LazySyncHistoryApp()


class BrazeSyncHistoryPlugin(AirflowPlugin):
    """Mounts the sync history at ``/braze`` and lists "Braze syncs" in the Airflow 3.1+ navigation.

    The navigation entry opens ``/braze/syncs`` inside the UI (``url_route``); Airflow 3.0, which has
    no external views, still serves the page at that address.
    """

    name = "braze_sync_history"
    # Lists, as AirflowPlugin declares them; Airflow only reads them.
    fastapi_apps = [{"app": sync_history_app, "url_prefix": URL_PREFIX, "name": "Braze sync history"}]  # noqa: RUF012
    external_views = [  # noqa: RUF012
        {
            "name": "Braze syncs",
            "href": SYNCS_PATH,
            "destination": "nav",
            "category": "browse",
            "url_route": "braze-syncs",
        }
    ]
