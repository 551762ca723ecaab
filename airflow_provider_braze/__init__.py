"""Apache Airflow provider for Braze (warehouse exports, Ketch preference sync, Cloud Data Ingestion)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "get_provider_info"]


def get_provider_info() -> dict:
    """Return the provider metadata Airflow discovers through the ``apache_airflow_provider`` entry point."""
    from airflow_provider_braze.provider_info import get_provider_info as _get

    return _get()
