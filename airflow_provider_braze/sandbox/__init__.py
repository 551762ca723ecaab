"""Local emulators for development, demos and tests (the Braze REST API)."""

from __future__ import annotations

from airflow_provider_braze.sandbox.braze import BrazeSandbox

__all__ = ["BrazeSandbox"]
