"""The settings a Braze connection carries, read from host, password and extras, and validated."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from airflow_provider_braze.braze.concurrency import DEFAULT_CAP
from airflow_provider_braze.braze.errors import BrazeConfigurationError
from airflow_provider_braze.braze.retry import RetryPolicy


@dataclass(frozen=True)
class BrazeConnectionSettings:
    """Everything the hook needs from an Airflow connection of type ``braze``.

    :param host: instance code (``US-03``) or REST endpoint URL.
    :param port: explicit port (only for a sandbox or a proxy).
    :param api_key: the REST API key (connection password).
    :param timeout: read timeout per attempt, seconds (extra ``timeout``).
    :param connect_timeout: connect timeout per attempt, seconds (extra ``connect_timeout``).
    :param max_attempts: attempts per request (extra ``max_attempts``).
    :param max_retry_seconds: total waiting allowed per request, from its start: waits between
        attempts and rate-limit pauses alike (extra ``max_retry_seconds``); a 429 or a pause asking
        for longer fails the request at once.
    :param retry_ambiguous: resend non-idempotent requests after a timeout (extra ``retry_ambiguous``).
    :param concurrency: the most requests in flight when sending batches (extra ``concurrency``); the
        sender keeps as many as the rate limit and the observed latency call for, up to it.
    :param rate_limits: per-group overrides, ``{"users_track": {"limit": 1000, "period": 3}}``.
    :param rate_limit_share: fraction of each workspace limit this connection may use.
    :param client_rate_limiting: ``False`` turns client-side limiting off.
    :param users_track_max_objects: objects per /users/track request across attributes, events and
        purchases (50 on Monthly Active Users CY 24-25 contracts; unset: 75 per array).
    :param test_endpoint: endpoint the connection test calls.
    :param verify: TLS verification (bool or CA bundle path).
    """

    host: str
    api_key: str = field(repr=False)
    port: int | None = None
    timeout: float = 60.0
    connect_timeout: float = 10.0
    max_attempts: int = 8
    max_retry_seconds: float = 900.0
    retry_ambiguous: bool = False
    concurrency: int = DEFAULT_CAP
    rate_limits: Mapping[str, Any] = field(default_factory=dict)
    rate_limit_share: float = 1.0
    client_rate_limiting: bool = True
    users_track_max_objects: int | None = None
    test_endpoint: str = "users/track"
    verify: bool | str = True

    @classmethod
    def from_connection(cls, conn: Any) -> BrazeConnectionSettings:
        """Read an Airflow ``Connection`` (host, port, password, extras)."""
        get = ExtrasReader(connection_extras(conn, "braze"))
        settings = cls(
            host=conn.host or "",
            port=conn.port,
            api_key=conn.password or "",
            timeout=get.number("timeout", 60.0, minimum=1),
            connect_timeout=get.number("connect_timeout", 10.0, minimum=0.1),
            max_attempts=int(get.number("max_attempts", 8, minimum=1)),
            max_retry_seconds=get.number("max_retry_seconds", 900.0, minimum=0),
            retry_ambiguous=get.boolean("retry_ambiguous", False),
            concurrency=int(get.number("concurrency", DEFAULT_CAP, minimum=1)),
            rate_limits=get.mapping("rate_limits"),
            rate_limit_share=get.number("rate_limit_share", 1.0, minimum=0.001),
            client_rate_limiting=get.boolean("client_rate_limiting", True),
            users_track_max_objects=_optional_int(get.number("users_track_max_objects", None, minimum=1)),
            test_endpoint=str(get.raw("test_endpoint") or "users/track"),
            verify=get.verify(),
        )
        if settings.rate_limit_share > 1:
            raise BrazeConfigurationError("Extra 'rate_limit_share' must be at most 1.")
        return settings

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            timeout=(self.connect_timeout, self.timeout),
            max_attempts=self.max_attempts,
            max_delay=self.max_retry_seconds,
            retry_ambiguous=self.retry_ambiguous,
        )


def connection_extras(conn: Any, conn_type: str, extras: Any = None) -> dict[str, Any]:
    """A connection's extras with empty values dropped and bare names.

    :param conn: the Airflow connection.
    :param conn_type: ``braze`` or ``ketch``: Airflow 2 forms stored custom fields as
        ``extra__<conn_type>__<name>``; both spellings are accepted.
    :param extras: the extras when already read (asynchronously, in a trigger); else ``conn.extra_dejson``.
    :raises BrazeConfigurationError: the extras are not a JSON object.
    """
    if extras is None:
        try:
            extras = conn.extra_dejson
        except Exception:  # noqa: BLE001 - a malformed extra must become a clear configuration error
            extras = None
    if not isinstance(extras, dict):
        raise BrazeConfigurationError(f"The extras of connection {conn.conn_id!r} are not a JSON object.")
    prefix = f"extra__{conn_type}__"
    return {key.removeprefix(prefix): value for key, value in extras.items() if value not in ("", None)}


def _optional_int(value: float | None) -> int | None:
    return None if value is None else int(value)


class ExtrasReader:
    """Typed reads of connection extras, each failure naming the extra."""

    def __init__(self, extras: Mapping[str, Any]) -> None:
        self.extras = extras

    def raw(self, name: str) -> Any:
        return self.extras.get(name)

    @overload
    def number(self, name: str, default: float, *, minimum: float) -> float: ...

    @overload
    def number(self, name: str, default: None, *, minimum: float) -> float | None: ...

    def number(self, name: str, default: float | None, *, minimum: float) -> float | None:
        value = self.extras.get(name)
        if value is None:
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise BrazeConfigurationError(f"Extra {name!r} must be a number, got {value!r}.") from None
        if number < minimum:
            raise BrazeConfigurationError(f"Extra {name!r} must be at least {minimum}, got {value!r}.")
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.extras.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise BrazeConfigurationError(f"Extra {name!r} must be true or false, got {value!r}.")

    def mapping(self, name: str) -> Mapping[str, Any]:
        value = self.extras.get(name)
        if value is None:
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise BrazeConfigurationError(f"Extra {name!r} must be a JSON object, got {value!r}.") from None
        if not isinstance(value, Mapping):
            raise BrazeConfigurationError(f"Extra {name!r} must be a JSON object, got {value!r}.")
        return value

    def verify(self) -> bool | str:
        value = self.extras.get("verify")
        if value is None or isinstance(value, bool):
            return True if value is None else value
        text = str(value).strip()
        return self.boolean("verify", True) if text.lower() in ("true", "false", "1", "0", "yes", "no") else text
