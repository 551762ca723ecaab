"""``BrazeSandbox``: a local Braze REST API for tests, demos and benchmarks.

Example::

    with BrazeSandbox(api_keys={"test-key": None}) as sandbox:
        requests.post(f"{sandbox.url}/users/track", json={...}, headers={"Authorization": "Bearer test-key"})
        assert sandbox.store.find_user(external_id="u1").custom_attributes == {...}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_braze.braze.endpoints import CATALOGUE, Endpoint
from airflow_provider_braze.sandbox.braze import inspection
from airflow_provider_braze.sandbox.braze.app import BrazeApp
from airflow_provider_braze.sandbox.braze.cdi_api import CdiState
from airflow_provider_braze.sandbox.braze.context import Settings
from airflow_provider_braze.sandbox.braze.faults import FaultDice, Faults
from airflow_provider_braze.sandbox.braze.messages import Request, Response
from airflow_provider_braze.sandbox.braze.ratelimits import WorkspaceRateLimits
from airflow_provider_braze.sandbox.braze.requestlog import RequestLog
from airflow_provider_braze.sandbox.braze.server import SandboxHTTPServer
from airflow_provider_braze.sandbox.braze.store import UserStore

#: The key a sandbox accepts when none is given (every permission).
DEFAULT_API_KEY = "braze-sandbox-key"


class BrazeSandbox:
    """A Braze REST API emulator serving one workspace on ``http://127.0.0.1:<port>``.

    :param api_keys: ``{key: permissions}``; ``None`` grants every permission, otherwise a set of
        Braze permission names (``users.track`` ...). Default: ``{"braze-sandbox-key": None}``.
    :param port: TCP port; 0 picks a free one (read :attr:`url`).
    :param latency: seconds added to every answer.
    :param fast: benchmark mode: no request log (the store is still applied; latency only as given).
    :param rate_limits: ``{group: (limit, period_seconds)}`` replacing catalogue figures.
    :param require_fields_to_export: ``/users/export/ids`` needs ``fields_to_export`` (new workspaces).
    :param seed: seed of the fault generator (same seed and request order, same faults).
    :param faults: initial fault settings (a :class:`Faults` or a dict of its fields).
    :param array_max_length: most elements kept in a simple array attribute (Braze default 25).
    :param endpoint_limits: other item limits per endpoint, e.g. ``{"users/track": {"max_total_items": 50}}``
        for a "Monthly Active Users - CY 24-25" contract.
    :param request_log_size: how many requests the log keeps.
    """

    def __init__(
        self,
        api_keys: Mapping[str, Iterable[str] | None] | None = None,
        *,
        port: int = 0,
        latency: float = 0.0,
        fast: bool = False,
        rate_limits: Mapping[str, tuple[int, float]] | None = None,
        require_fields_to_export: bool = False,
        seed: int | None = None,
        faults: Faults | Mapping[str, Any] | None = None,
        array_max_length: int = 25,
        endpoint_limits: Mapping[str, Mapping[str, int]] | None = None,
        request_log_size: int = 100_000,
    ) -> None:
        self.port = port
        self.fast = fast
        self.store = UserStore()
        self.requests = RequestLog(request_log_size)
        self.rate_limits = WorkspaceRateLimits(dict(rate_limits or {}))
        self.faults = faults if isinstance(faults, Faults) else Faults().update(**dict(faults or {}))
        self._dice = FaultDice(seed)
        self.cdi = CdiState()
        self.settings = Settings(array_max_length=array_max_length, require_fields_to_export=require_fields_to_export)
        endpoints: dict[str, Endpoint] = {
            name: CATALOGUE[name].with_limits(**limits) for name, limits in (endpoint_limits or {}).items()
        }
        self.app = BrazeApp(
            api_keys=api_keys if api_keys is not None else {DEFAULT_API_KEY: None},
            store=self.store,
            limiter=self.rate_limits,
            faults=self.faults,
            dice=self._dice,
            request_log=None if fast else self.requests,
            settings=self.settings,
            cdi=self.cdi,
            latency=latency,
            endpoints=endpoints,
        )
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._server is None:
            raise RuntimeError("The sandbox is not running; call start() or use it as a context manager")
        return self._server.base_url

    def start(self) -> BrazeSandbox:
        """Bind 127.0.0.1 and serve in a background thread."""
        if self._server is not None:
            return self
        self._server = SandboxHTTPServer(self.port, self._dispatch)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"braze-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` is called from another (used by the CLI)."""
        self.start()
        while self._server is not None:
            time.sleep(0.2)

    def __enter__(self) -> BrazeSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _dispatch(self, request: Request) -> Response:
        if inspection.is_inspection(request.path):
            return inspection.handle(self, request)
        return self.app.handle(request)

    # --- steering ---------------------------------------------------------------------------------

    @property
    def latency(self) -> float:
        return self.app.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.app.latency = float(seconds)

    def set_rate_limit(self, group: str, limit: int, period: float, start: float | None = None) -> None:
        """Override one rate-limit group's window, e.g. ``set_rate_limit("users_track", limit=5, period=1.0)``.

        :param start: epoch seconds at which a window begins (default: windows aligned to the period),
            e.g. ``time.time()`` for an hourly window that began now.
        """
        self.rate_limits.set_limit(group, limit, period, start)

    def add_cdi_integration(self, integration_id: str | None = None, **settings: Any) -> str:
        """Register a CDI integration; returns its id.

        :param integration_id: a UUID; a new one when omitted.
        :param settings: ``integration_name``, ``integration_type``, ``integration_status``,
            ``warehouse_type``, ``contact_emails``, ``job_duration`` (seconds a sync runs),
            ``job_status`` (``success``/``partial``/``error``/``config_error``), ``rows_synced``, ``rows_failed``.
        """
        return self.cdi.add(integration_id, **settings)

    def configure_cdi_integration(self, integration_id: str, **settings: Any) -> None:
        """Change how an integration's next syncs go (same settings as :meth:`add_cdi_integration`)."""
        self.cdi.configure(integration_id, **settings)

    def add_subscription_group(
        self, subscription_group_id: str, channel: str = "email", name: str | None = None
    ) -> None:
        """Declare a subscription group; once any is declared, unknown group ids are refused."""
        with self.store.lock:
            self.store.subscription_group_registry[subscription_group_id] = {
                "channel": channel,
                "name": name or subscription_group_id,
            }

    def reset(self) -> None:
        """Forget data, request log, rate-limit windows, CDI jobs and faults; keep the configuration."""
        self.store.clear()
        self.requests.clear()
        self.app.statuses.clear()
        self.rate_limits.reset()
        self.cdi.clear_jobs()
        defaults = Faults()
        for name, value in vars(defaults).items():
            setattr(self.faults, name, value)
        self._dice.reseed()

    def state(self) -> dict[str, Any]:
        """Everything the sandbox holds, JSON-ready (``GET /_sandbox/state``)."""
        return {
            **self.store.snapshot(),
            "rate_limits": self.rate_limits.to_dict(),
            "faults": self.faults.to_dict(),
            "cdi_integrations": self.cdi.to_dict(),
            "requests_logged": len(self.requests),
        }
