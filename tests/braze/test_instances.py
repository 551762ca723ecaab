"""Resolving a Braze connection's host into a REST base URL."""

from __future__ import annotations

import pytest

from airflow_provider_braze.braze.errors import BrazeConfigurationError
from airflow_provider_braze.braze.instances import INSTANCES, resolve_base_url


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("US-03", "https://rest.iad-03.braze.com"),
        ("us-03", "https://rest.iad-03.braze.com"),
        (" eu-01 ", "https://rest.fra-01.braze.eu"),
        ("US-10", "https://rest.us-10.braze.com"),
        ("kr-01", "https://rest.kr-01.braze.com"),
    ],
)
def test_instance_code_in_any_case_resolves_to_its_rest_url(host, url):
    assert resolve_base_url(host) == url


def test_every_documented_instance_is_known():
    assert set(INSTANCES) == {
        "US-01",
        "US-02",
        "US-03",
        "US-04",
        "US-05",
        "US-06",
        "US-07",
        "US-08",
        "US-10",
        "EU-01",
        "EU-02",
        "AU-01",
        "ID-01",
        "JP-01",
        "KR-01",
    }


def test_unknown_instance_code_lists_the_valid_ones():
    with pytest.raises(BrazeConfigurationError) as info:
        resolve_base_url("US-09")
    assert "US-09" in str(info.value)
    assert "US-01" in str(info.value) and "KR-01" in str(info.value)


def test_url_keeps_its_scheme_and_drops_trailing_slash():
    assert resolve_base_url("https://rest.iad-01.braze.com/") == "https://rest.iad-01.braze.com"


def test_bare_host_means_https():
    assert resolve_base_url("rest.fra-02.braze.eu") == "https://rest.fra-02.braze.eu"


def test_plain_http_is_refused_for_a_remote_host():
    with pytest.raises(BrazeConfigurationError, match="https"):
        resolve_base_url("http://rest.iad-01.braze.com")


@pytest.mark.parametrize("host", ["http://127.0.0.1", "http://localhost", "http://[::1]", "http://127.0.0.5"])
def test_plain_http_is_allowed_on_loopback(host):
    assert resolve_base_url(host, 8080).startswith("http://")
    assert resolve_base_url(host, 8080).endswith(":8080")


def test_connection_port_is_added_only_when_the_url_has_none():
    assert resolve_base_url("http://127.0.0.1:9000", 8080) == "http://127.0.0.1:9000"


def test_sdk_endpoint_is_refused():
    with pytest.raises(BrazeConfigurationError, match="SDK endpoint"):
        resolve_base_url("sdk.iad-01.braze.com")


def test_empty_host_explains_what_to_set():
    with pytest.raises(BrazeConfigurationError, match="instance code"):
        resolve_base_url("")
