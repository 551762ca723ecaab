"""Metrics through Airflow's ``Stats`` (StatsD, Datadog or OpenTelemetry, as ``[metrics]`` configures).

Names (every one also tagged, for the backends that keep tags):

=================================  =======  ===========================================================
``braze.requests``                 counter  every answer from Braze; tags ``endpoint``, ``status``
``braze.requests.rate_limited``    counter  answers 429; tag ``endpoint``
``braze.request.duration``         timer    milliseconds per request; tags ``endpoint``, ``status``
``braze.export.<outcome>``         counter  rows of an export run by outcome (``rows_read``,
                                            ``rows_sent``, ``accepted``, ``rejected``, ``skipped``,
                                            ``failed``, ``unknown``, ``unchanged``); tags
                                            ``endpoint``, ``sync_key``
``braze.export.data_points``       counter  data points the run spent; same tags
``braze.export.duration``          timer    milliseconds the run took; same tags
=================================  =======  ===========================================================

Airflow sends nothing unless metrics are switched on (``[metrics] statsd_on`` or ``otel_on``), so
these calls cost next to nothing by default. Requests are counted per request, never per row.

.. seealso:: https://airflow.apache.org/docs/apache-airflow/stable/administration-and-deployment/logging-monitoring/metrics.html
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk.observability.stats import Stats

from airflow_provider_braze.braze.endpoints import Endpoint

#: Summary counts of an export run sent as ``braze.export.<outcome>`` counters.
EXPORT_OUTCOMES = ("rows_read", "rows_sent", "accepted", "rejected", "skipped", "failed", "unknown", "unchanged")


def observe_request(endpoint: Endpoint, seconds: float, status: int | None) -> None:
    """Count and time one answer from Braze (a ``BrazeClient.watch`` observer); ``status`` ``None``: no answer."""
    tags = {"endpoint": endpoint.name, "status": str(status) if status is not None else "none"}
    Stats.incr("braze.requests", tags=tags)
    Stats.timing("braze.request.duration", seconds * 1000.0, tags=tags)
    if status == 429:
        Stats.incr("braze.requests.rate_limited", tags={"endpoint": endpoint.name})


def emit_export_summary(summary: Mapping[str, Any], sync_key: str) -> None:
    """Send an export run's counts; a dry run sends nothing (it moved no data)."""
    if summary.get("dry_run"):
        return
    tags = {"endpoint": str(summary.get("endpoint")), "sync_key": sync_key}
    for outcome in EXPORT_OUTCOMES:
        count = summary.get(outcome)
        if count:
            Stats.incr(f"braze.export.{outcome}", count, tags=tags)
    if summary.get("data_points"):
        Stats.incr("braze.export.data_points", summary["data_points"], tags=tags)
    Stats.timing("braze.export.duration", float(summary.get("seconds") or 0.0) * 1000.0, tags=tags)
