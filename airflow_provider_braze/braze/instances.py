"""Braze REST instances: turn an instance code (``US-03``) or a URL into a REST base URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from airflow_provider_braze.braze.errors import BrazeConfigurationError
from airflow_provider_braze.outbound.urls import is_loopback

#: REST base URL per instance code, from Braze's "API basics" page (there is no US-09).
INSTANCES: dict[str, str] = {
    "US-01": "https://rest.iad-01.braze.com",
    "US-02": "https://rest.iad-02.braze.com",
    "US-03": "https://rest.iad-03.braze.com",
    "US-04": "https://rest.iad-04.braze.com",
    "US-05": "https://rest.iad-05.braze.com",
    "US-06": "https://rest.iad-06.braze.com",
    "US-07": "https://rest.iad-07.braze.com",
    "US-08": "https://rest.iad-08.braze.com",
    "US-10": "https://rest.us-10.braze.com",
    "EU-01": "https://rest.fra-01.braze.eu",
    "EU-02": "https://rest.fra-02.braze.eu",
    "AU-01": "https://rest.au-01.braze.com",
    "ID-01": "https://rest.id-01.braze.com",
    "JP-01": "https://rest.jp-01.braze.com",
    "KR-01": "https://rest.kr-01.braze.com",
}


def resolve_base_url(host: str, port: int | None = None) -> str:
    """Return the REST base URL for an instance code or a URL.

    :param host: an instance code in any case (``us-03``), a URL (``https://rest.iad-03.braze.com``)
        or a bare host name (taken as https).
    :param port: an explicit port from the connection, added when the host has none.
    :raises BrazeConfigurationError: for an unknown instance code, an SDK endpoint, or plain http to
        anything but loopback (the key would travel in clear text).
    """
    value = (host or "").strip().rstrip("/")
    if not value:
        raise BrazeConfigurationError(
            "The Braze connection has no host: set it to an instance code such as US-03 or to the "
            "REST endpoint URL shown in Braze under Settings > APIs and Identifiers."
        )
    code = value.upper()
    if code in INSTANCES:
        return INSTANCES[code]
    if _looks_like_instance_code(code):
        raise BrazeConfigurationError(f"Unknown Braze instance {value!r}; valid instances are {', '.join(INSTANCES)}.")
    url = value if "://" in value else f"https://{value}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BrazeConfigurationError(f"Braze REST endpoint {value!r} is not an http(s) URL.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise BrazeConfigurationError(
            f"Refusing plain http for {parts.hostname}: Braze REST calls carry the API key and must use "
            "https (http is allowed only for a loopback sandbox)."
        )
    if parts.hostname.startswith("sdk."):
        raise BrazeConfigurationError(
            f"{parts.hostname} is a Braze SDK endpoint; REST calls need the REST endpoint (rest.<cluster>)."
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _looks_like_instance_code(code: str) -> bool:
    prefix, _, number = code.partition("-")
    return prefix.isalpha() and len(prefix) == 2 and number.isdigit() and len(number) == 2
