"""A local emulator of Braze's REST API: real HTTP on 127.0.0.1, Braze's documented rules, inspectable state.

Layout: ``server`` (sockets, keep-alive, dropped connections) hands a ``messages.Request`` to
``app`` (routing from the endpoint catalogue, auth, ``ratelimits``, ``faults``, ``request_rules``), which
calls one handler per endpoint (``track``, ``users``, ``identify``, ``subscriptions``,
``email_api``, ``cdi_api``) over the ``store``. ``sandbox.BrazeSandbox`` ties them together,
``inspection`` serves ``/_sandbox/*`` and ``cli`` runs it as a process.
"""

from __future__ import annotations

from airflow_provider_braze.sandbox.braze.faults import Faults
from airflow_provider_braze.sandbox.braze.sandbox import DEFAULT_API_KEY, BrazeSandbox

__all__ = ["DEFAULT_API_KEY", "BrazeSandbox", "Faults"]
