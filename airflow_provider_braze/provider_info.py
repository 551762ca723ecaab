"""Provider metadata Airflow reads through the ``apache_airflow_provider`` entry point.

Airflow 3.2+ builds the connection form from ``conn-fields`` and ``ui-field-behaviour`` here without
importing the hooks; older cores call ``BrazeHook.get_ui_field_behaviour()`` instead.
"""

from __future__ import annotations

from airflow_provider_braze import __version__

BRAZE_UI_FIELD_BEHAVIOUR = {
    "hidden-fields": ["schema", "login"],
    "relabeling": {"host": "REST endpoint or instance", "password": "REST API key"},
    "placeholders": {
        "host": "US-03, EU-01 ... or https://rest.iad-03.braze.com",
        "password": "REST API key from Settings > APIs and Identifiers",
        "port": "only for a local sandbox",
        "extra": '{"concurrency": 8, "users_track_max_objects": 50}',
    },
}

BRAZE_CONN_FIELDS = {
    "concurrency": {
        "label": "Concurrent requests",
        "description": "Requests in flight at once when sending batches.",
        "schema": {"type": ["integer", "null"], "minimum": 1, "default": 8},
    },
    "timeout": {
        "label": "Read timeout (s)",
        "schema": {"type": ["number", "null"], "minimum": 1, "default": 60},
    },
    "max_attempts": {
        "label": "Attempts per request",
        "description": "Retries cover 429 (until X-RateLimit-Reset), 5xx and connection errors.",
        "schema": {"type": ["integer", "null"], "minimum": 1, "default": 8},
    },
    "users_track_max_objects": {
        "label": "Objects per /users/track request",
        "description": "50 on Monthly Active Users CY 24-25 contracts; empty for 75 per array.",
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 225},
    },
    "rate_limit_share": {
        "label": "Share of rate limits",
        "description": "Fraction of each Braze rate limit this connection may use (0-1].",
        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": 1, "default": 1},
    },
    "test_endpoint": {
        "label": "Endpoint for connection tests",
        "description": "Catalogue name the Test button calls, e.g. users/track or users/delete.",
        "schema": {"type": ["string", "null"], "default": "users/track"},
    },
}


def get_provider_info() -> dict:
    """Return this provider's metadata (validated by Airflow against its provider-info schema)."""
    return {
        "package-name": "airflow-provider-braze",
        "name": "Braze",
        "description": "Braze (customer engagement) and Ketch (consent) for Apache Airflow: warehouse exports "
        "in every Treasure Data mode, Ketch preference sync, Cloud Data Ingestion.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Braze",
                "external-doc-url": "https://www.braze.com/docs/api/basics",
                "tags": ["service"],
            },
        ],
        "hooks": [
            {"integration-name": "Braze", "python-modules": ["airflow_provider_braze.hooks.braze"]},
        ],
        "connection-types": [
            {
                "connection-type": "braze",
                "hook-class-name": "airflow_provider_braze.hooks.braze.BrazeHook",
                "hook-name": "Braze",
                "ui-field-behaviour": BRAZE_UI_FIELD_BEHAVIOUR,
                "conn-fields": BRAZE_CONN_FIELDS,
            },
        ],
    }
