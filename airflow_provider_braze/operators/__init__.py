"""Airflow operators of the Braze provider."""

from airflow_provider_braze.operators.cdi import BrazeCDISyncOperator

__all__ = ["BrazeCDISyncOperator"]
