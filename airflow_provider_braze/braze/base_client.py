"""What the synchronous and the async Braze clients share before any byte is sent.

As httpx's ``BaseClient`` does for its ``Client`` and ``AsyncClient``: the workspace's URL, the key
(cleaned, put in the Bearer header and nowhere else that is shown), the retry policy and the timeout.
The clients add only how they move bytes, so both refuse the same keys and send the same headers.
"""

from __future__ import annotations

import platform

from airflow_provider_braze import USER_AGENT
from airflow_provider_braze.braze.errors import BrazeConfigurationError
from airflow_provider_braze.braze.retry import RetryPolicy

DEFAULT_USER_AGENT = f"{USER_AGENT} python/{platform.python_version()}"


class BaseBrazeClient:
    """The configuration of a client of one Braze workspace; the key never appears in ``repr``.

    :param base_url: REST base URL (see :func:`~airflow_provider_braze.braze.instances.resolve_base_url`).
    :param api_key: the REST API key.
    :param timeout: ``(connect, read)`` seconds per attempt (``None``: the retry policy's).
    :param retry_policy: when and how to retry (``None``: the default policy).
    :param user_agent: ``User-Agent`` header.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: tuple[float, float] | None,
        retry_policy: RetryPolicy | None,
        user_agent: str,
    ) -> None:
        key = clean_api_key(api_key)
        self.base_url = base_url.rstrip("/")
        self.retry_policy = retry_policy or RetryPolicy()
        self.timeout = timeout or self.retry_policy.timeout
        self._headers = {
            "Authorization": f"Bearer {key}",
            "User-Agent": user_agent,
            "Accept": "application/json",
        }
        self._key = key
        self._secrets = (key,)  # redacted from the retry log line

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key='***')"


def clean_api_key(api_key: str | None) -> str:
    """Strip whitespace and quotes pasted around a key (Braze answers 401 to a quoted key)."""
    key = (api_key or "").strip().strip("'\"").strip()
    if not key:
        raise BrazeConfigurationError("The Braze connection has no REST API key (set it as the password).")
    return key
