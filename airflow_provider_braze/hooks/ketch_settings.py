"""The settings a Ketch connection carries, read from host, login, password and extras, and validated.

A Ketch connection serves two sides:

- the webhook receiver (password = the bearer token Ketch sends; extras ``max_body_bytes`` and the
  state store) and the sensor and trigger that read what it stored;
- Ketch's public web API (host, login = organization code, extras ``property``, ``environment``,
  ``web_api_qps``), which answers for one known identity at a time and needs no key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_braze.braze.errors import BrazeConfigurationError
from airflow_provider_braze.hooks.extras import ExtrasReader, connection_extras
from airflow_provider_braze.ketch.web_api import DEFAULT_WEB_API_URL
from airflow_provider_braze.outbound.urls import is_loopback

#: Ketch's public web API (ketch-tag ``src/constants.ts``).
#: File name of the embedded state store, created under ``AIRFLOW_HOME``.
DEFAULT_STATE_FILE = "braze_provider_state.db"
#: Requests per second a reconciliation sweep sends to the web API (Ketch publishes no limit).
DEFAULT_WEB_API_QPS = 5.0


class KetchConfigurationError(ValueError):
    """A Ketch connection is missing a setting or has an invalid one."""


def airflow_home() -> str:
    """``AIRFLOW_HOME`` as Airflow reads it (environment variable, else ``~/airflow``)."""
    return os.path.expanduser(os.path.expandvars(os.environ.get("AIRFLOW_HOME", "~/airflow")))


def default_state_path() -> str:
    """The embedded state store's file, ``$AIRFLOW_HOME/braze_provider_state.db`` (absolute)."""
    return os.path.join(os.path.abspath(airflow_home()), DEFAULT_STATE_FILE)


def default_state_url() -> str:
    """The embedded state store, ``sqlite:///$AIRFLOW_HOME/braze_provider_state.db``: Ketch events and the
    sync ledger."""
    return f"sqlite:///{default_state_path()}"


def web_api_url(host: str | None, port: int | None = None) -> str:
    """The web API base URL from a connection's host (and port); https unless the host is loopback.

    :param host: ``https://global.ketchcdn.com/web/v2``, ``global.ketchcdn.com/web/v2`` (https is
        assumed) or ``http://127.0.0.1:8086/web/v2`` (a local emulator).
    :param port: the connection's port, used when the host names none.
    :raises KetchConfigurationError: another scheme, or plain http to a host that is not loopback.
    """
    text = (host or "").strip() or DEFAULT_WEB_API_URL
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise KetchConfigurationError(f"The Ketch web API URL must be an https URL, got {text!r}.")
    if scheme == "http" and not is_loopback(parts.hostname):
        raise KetchConfigurationError(
            f"The Ketch web API URL must use https (plain http only for a loopback host), got {text!r}."
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{int(port)}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class KetchConnectionSettings:
    """Everything the Ketch hook needs from an Airflow connection of type ``ketch``.

    :param web_api_url: base URL of the web API (connection host; Ketch's global URL when empty).
    :param web_api_configured: whether the connection names a web API host (the connection test
        only calls the web API then).
    :param organization: the Ketch organization code (connection login).
    :param webhook_token: the bearer token Ketch sends with every webhook (connection password).
    :param state_conn_id: an Airflow connection (e.g. ``postgres``) holding the state store (extra).
    :param state_url: a SQLAlchemy URL of the state store (extra; may hold a database password).
    :param property_code: the Ketch property sent to the web API (extra ``property``).
    :param environment: the Ketch environment sent to the web API (extra ``environment``).
    :param max_body_bytes: largest webhook body the receiver accepts (extra; receiver default when unset).
    :param web_api_qps: requests per second to the web API, e.g. in a reconciliation sweep (extra).
    :param timeout: read timeout of one web API request, seconds (extra ``timeout``).
    :param max_attempts: attempts per web API request, retrying 429, 5xx and connection errors
        (extra ``max_attempts``).
    """

    web_api_url: str = DEFAULT_WEB_API_URL
    web_api_configured: bool = False
    organization: str | None = None
    webhook_token: str = field(default="", repr=False)
    state_conn_id: str | None = None
    state_url: str | None = field(default=None, repr=False)
    property_code: str | None = None
    environment: str | None = None
    max_body_bytes: int | None = None
    web_api_qps: float = DEFAULT_WEB_API_QPS
    timeout: float = 30.0
    max_attempts: int = 5

    @classmethod
    def from_connection(cls, conn: Any, extras: dict[str, Any] | None = None) -> KetchConnectionSettings:
        """Read an Airflow ``Connection``.

        :param conn: the connection (host, port, login, password, extras).
        :param extras: its extras when already read (asynchronously, in a trigger); otherwise
            ``conn.extra_dejson`` is read.
        :raises KetchConfigurationError: an extra has the wrong type or range.
        """
        try:
            get = ExtrasReader(connection_extras(conn, "ketch", extras))
            qps = get.number("web_api_qps", DEFAULT_WEB_API_QPS, minimum=0.001)
            max_body = get.number("max_body_bytes", None, minimum=1024)
            settings = cls(
                web_api_url=web_api_url(conn.host, conn.port),
                web_api_configured=bool((conn.host or "").strip()),
                organization=(conn.login or "").strip() or None,
                webhook_token=(conn.password or "").strip(),
                state_conn_id=_text(get.raw("state_conn_id")),
                state_url=_text(get.raw("state_url")),
                property_code=_text(get.raw("property")),
                environment=_text(get.raw("environment")),
                max_body_bytes=None if max_body is None else int(max_body),
                web_api_qps=float(qps),
                timeout=float(get.number("timeout", 30.0, minimum=1)),
                max_attempts=int(get.number("max_attempts", 5, minimum=1)),
            )
        except BrazeConfigurationError as exc:  # the shared extras reader speaks of Braze; this is Ketch
            raise KetchConfigurationError(str(exc)) from None
        if settings.state_conn_id and settings.state_url:
            raise KetchConfigurationError("Set either the 'state_conn_id' or the 'state_url' extra, not both.")
        return settings

    def require_organization(self) -> str:
        """The organization code, which every web API path carries.

        :raises KetchConfigurationError: the connection's login is empty.
        """
        if not self.organization:
            raise KetchConfigurationError("The Ketch connection needs the organization code in its login field.")
        return self.organization


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None
