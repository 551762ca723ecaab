"""Provider metadata Airflow reads through the ``apache_airflow_provider`` entry point.

Airflow 3.2+ builds the connection forms from ``conn-fields`` and ``ui-field-behaviour`` here without
importing the hooks; older cores call ``BrazeHook.get_ui_field_behaviour()`` and
``KetchHook.get_ui_field_behaviour()`` instead.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_braze import DISTRIBUTION, __version__

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


KETCH_UI_FIELD_BEHAVIOUR = {
    "hidden-fields": ["schema"],
    "relabeling": {"host": "Ketch web API URL", "login": "Organization code", "password": "Webhook bearer token"},
    "placeholders": {
        "host": "https://global.ketchcdn.com/web/v2 (the default when empty)",
        "login": "organization code, e.g. axonic",
        "password": "bearer token set in Ketch under Developers > Webhooks",
        "port": "only for a local emulator",
        "extra": '{"state_conn_id": "ketch_state", "property": "website", "environment": "production"}',
    },
}

KETCH_CONN_FIELDS = {
    "state_conn_id": {
        "label": "State store connection",
        "description": "Airflow connection (e.g. postgres) of the database holding received Ketch events. "
        "Empty: the State store URL, else a SQLite file braze_provider_state.db in AIRFLOW_HOME.",
        "schema": {"type": ["string", "null"]},
    },
    "state_url": {
        "label": "State store URL",
        "description": "SQLAlchemy URL of that database, instead of a connection.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "property": {
        "label": "Property code",
        "description": "Ketch property sent to the web API.",
        "schema": {"type": ["string", "null"]},
    },
    "environment": {
        "label": "Environment code",
        "description": "Ketch environment sent to the web API, e.g. production.",
        "schema": {"type": ["string", "null"]},
    },
    "max_body_bytes": {
        "label": "Largest webhook body (bytes)",
        "schema": {"type": ["integer", "null"], "minimum": 1024, "default": 1048576},
    },
    "web_api_qps": {
        "label": "Web API requests per second",
        "description": "Pace of web API calls, e.g. a reconciliation sweep over known users.",
        "schema": {"type": ["number", "null"], "minimum": 0.001, "default": 5},
    },
}


#: The services the provider integrates, with their documentation.
INTEGRATIONS = [
    {
        "integration-name": "Braze",
        "external-doc-url": "https://www.braze.com/docs/api/basics",
        "tags": ["service"],
    },
    {
        "integration-name": "Ketch",
        "external-doc-url": "https://developers.ketch.com/docs/webhooks-1",
        "tags": ["service"],
    },
]

#: The connection types and the fields Airflow's connection form shows for each.
CONNECTION_TYPES = [
    {
        "connection-type": "braze",
        "hook-class-name": "airflow_provider_braze.hooks.braze.BrazeHook",
        "hook-name": "Braze",
        "ui-field-behaviour": BRAZE_UI_FIELD_BEHAVIOUR,
        "conn-fields": BRAZE_CONN_FIELDS,
    },
    {
        "connection-type": "ketch",
        "hook-class-name": "airflow_provider_braze.hooks.ketch.KetchHook",
        "hook-name": "Ketch",
        "ui-field-behaviour": KETCH_UI_FIELD_BEHAVIOUR,
        "conn-fields": KETCH_CONN_FIELDS,
    },
]


def legacy_ui_field_behaviour(behaviour: dict[str, Any]) -> dict[str, Any]:
    """A connection form as ``get_ui_field_behaviour`` returns it to Airflow cores older than 3.2.

    :param behaviour: the connection type's ``ui-field-behaviour`` above (``hidden-fields`` becomes ``hidden_fields``).
    """
    return {
        "hidden_fields": behaviour["hidden-fields"],
        "relabeling": behaviour["relabeling"],
        "placeholders": behaviour["placeholders"],
    }


def get_provider_info() -> dict:
    """Return this provider's metadata (validated by Airflow against its provider-info schema)."""
    return {
        "package-name": DISTRIBUTION,
        "name": "Braze",
        "description": "Braze (customer engagement) and Ketch (consent) for Apache Airflow: warehouse exports "
        "in every Treasure Data mode, Ketch preference sync, Cloud Data Ingestion.",
        "versions": [__version__],
        "integrations": INTEGRATIONS,
        "hooks": [
            {"integration-name": "Braze", "python-modules": ["airflow_provider_braze.hooks.braze"]},
            {"integration-name": "Ketch", "python-modules": ["airflow_provider_braze.hooks.ketch"]},
        ],
        "operators": [
            {
                "integration-name": "Braze",
                "python-modules": [
                    "airflow_provider_braze.operators.users",
                    "airflow_provider_braze.operators.treasure_data",
                    "airflow_provider_braze.operators.cdi",
                    "airflow_provider_braze.operators.subscriptions",
                    "airflow_provider_braze.operators.rights",
                    "airflow_provider_braze.operators.sync_ledger",
                ],
            },
        ],
        "sensors": [
            {"integration-name": "Braze", "python-modules": ["airflow_provider_braze.sensors.cdi"]},
            {"integration-name": "Ketch", "python-modules": ["airflow_provider_braze.sensors.ketch"]},
        ],
        "triggers": [
            {"integration-name": "Braze", "python-modules": ["airflow_provider_braze.triggers.cdi"]},
            {"integration-name": "Ketch", "python-modules": ["airflow_provider_braze.triggers.ketch"]},
        ],
        "extra-links": ["airflow_provider_braze.ui.links.BrazeSyncRunLink"],
        "connection-types": CONNECTION_TYPES,
    }
