"""Airflow triggers of the Braze provider (``airflow.triggers.base.BaseTrigger`` subclasses)."""

from airflow_provider_braze.triggers.cdi import BrazeCDIJobTrigger
from airflow_provider_braze.triggers.ketch import KetchPreferenceChangeTrigger

__all__ = ["BrazeCDIJobTrigger", "KetchPreferenceChangeTrigger"]
