"""Airflow hooks: connections to Braze and Ketch."""
