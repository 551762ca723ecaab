"""What the Ketch services need of Braze: the batched sender and single calls, within the catalogue.

:class:`~airflow_provider_braze.hooks.braze.BrazeHook` provides both (its ``send`` runs the export
half's batcher and sender); the services name only this protocol, so they stay free of Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from airflow_provider_braze.braze.endpoints import Endpoint
from airflow_provider_braze.braze.exchange import BrazeResponse
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.braze.sender import BatchResult


class BrazePort(Protocol):
    """A Braze workspace as the Ketch services use it."""

    def endpoint(self, name: str | Endpoint) -> Endpoint:
        """The catalogue entry for ``name`` with this workspace's limits."""

    def call(self, endpoint: str | Endpoint, *, json: Any = None) -> BrazeResponse:
        """One request (rate limited, retried); the 2xx response or the typed error."""

    def send(
        self, endpoint: str | Endpoint, items: Iterable[Item], *, static_body: Mapping[str, Any] | None = None
    ) -> Iterator[BatchResult]:
        """Objects in batches within the endpoint's limits; per-batch outcomes."""
