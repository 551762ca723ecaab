"""Local emulators for development, demos and tests: the Braze REST API and Ketch."""

from __future__ import annotations

from airflow_provider_braze.sandbox.braze import BrazeSandbox
from airflow_provider_braze.sandbox.ketch import KetchSandbox

__all__ = ["BrazeSandbox", "KetchSandbox"]
