"""Airflow sensors of the Braze provider."""

from airflow_provider_braze.sensors.cdi import BrazeCDIJobSensor

__all__ = ["BrazeCDIJobSensor"]
