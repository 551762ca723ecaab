"""Airflow sensors of the Braze provider."""

from airflow_provider_braze.sensors.cdi import BrazeCDIJobSensor
from airflow_provider_braze.sensors.ketch import KetchPreferenceChangeSensor

__all__ = ["BrazeCDIJobSensor", "KetchPreferenceChangeSensor"]
