"""Which catalogue endpoint a method and path name, read from the endpoint catalogue itself."""

from __future__ import annotations

import re
from dataclasses import dataclass

from airflow_provider_braze.braze.endpoints import CATALOGUE, Endpoint


@dataclass(frozen=True)
class Route:
    """A matched endpoint and the values of its path placeholders (``integration_id``)."""

    endpoint: Endpoint
    params: dict[str, str]


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}$")


_TABLE: list[tuple[re.Pattern[str], Endpoint]] = [(_compile(e.path), e) for e in CATALOGUE.values()]


def route(method: str, path: str) -> Route | None:
    """The endpoint for ``method path``, or ``None``.

    Braze routes by method and path together, so a known path with the wrong method is not found
    either (sandbox choice: 404 rather than 405). Paths are matched exactly: no trailing slash.
    """
    for pattern, endpoint in _TABLE:
        m = pattern.match(path)
        if m and endpoint.method == method.upper():
            return Route(endpoint, m.groupdict())
    return None
