"""What every endpoint handler receives: the parsed call, the workspace state and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_braze.braze.endpoints import Endpoint
from airflow_provider_braze.sandbox.braze.messages import Request

if TYPE_CHECKING:
    from airflow_provider_braze.sandbox.braze.cdi_api import CdiState
    from airflow_provider_braze.sandbox.braze.store import UserStore


@dataclass
class Settings:
    """Workspace settings that change what the API accepts.

    :param array_max_length: most elements kept in a simple array attribute (Braze: 25 by default,
        up to 100 when configured).
    :param require_fields_to_export: ``/users/export/ids`` refuses requests without
        ``fields_to_export`` (workspaces onboarded on or after 2024-08-22).
    :param max_product_ids: distinct purchase ``product_id``s a workspace may hold.
    """

    array_max_length: int = 25
    require_fields_to_export: bool = False
    max_product_ids: int = 5000


@dataclass
class Call:
    """One authorised request to one endpoint.

    :param endpoint: the catalogue entry (possibly with per-sandbox limits).
    :param params: path placeholders (``integration_id``).
    :param request: the raw request (query string, base URL).
    :param body: the parsed JSON object, ``None`` for GETs and empty bodies.
    """

    endpoint: Endpoint
    params: dict[str, str]
    request: Request
    body: dict[str, Any] | None
    store: UserStore
    settings: Settings
    cdi: CdiState
    extra: dict[str, Any] = field(default_factory=dict)

    def query(self, name: str) -> str | None:
        """The last value of a query parameter."""
        values = self.request.query.get(name)
        return values[-1] if values else None

    def query_list(self, name: str) -> list[str]:
        """All values of ``name`` and ``name[]`` (Braze's array parameters), commas not split."""
        return list(self.request.query.get(name, [])) + list(self.request.query.get(f"{name}[]", []))
