"""Apache Airflow provider for Braze (warehouse exports, Ketch preference sync, Cloud Data Ingestion)."""

from __future__ import annotations

__version__ = "0.1.0"
#: The distribution's name on the package index (the import package keeps its name).
DISTRIBUTION = "airflow-provider-braze-sync"
#: How requests to Braze and Ketch introduce themselves.
USER_AGENT = f"{DISTRIBUTION}/{__version__}"

__all__ = ["DISTRIBUTION", "USER_AGENT", "__version__", "get_provider_info"]


def get_provider_info() -> dict:
    """Return the provider metadata Airflow discovers through the ``apache_airflow_provider`` entry point."""
    from airflow_provider_braze.provider_info import get_provider_info as _get

    return _get()
