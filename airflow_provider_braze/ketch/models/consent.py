"""``consent/v1``: a user's consent to processing purposes changed (informational; answer 204)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from airflow_provider_braze.ketch.models.common import (
    CONSENT_API_VERSION,
    Envelope,
    PreferenceStatus,
    RegulatedRequestBody,
)


class ConsentRequestBody(RegulatedRequestBody):
    """``request`` of a :class:`ConsentRequest`.

    :param purposes: ``{purpose_code: "granted" | "denied"}``. The Web API's object form
        (``{"allowed": "true"}`` or ``{"status": ...}``) is accepted too.
    :param legal_basis: ``{purpose_code: legal_basis_code}`` (``consent_optin``, ``consent_optout``...).
    :param collected_at: when the consent was collected, in unix seconds.
    """

    purposes: dict[str, PreferenceStatus] = {}
    legal_basis: dict[str, str] = {}
    vendors: list[Any] = []
    context: dict[str, Any] = {}
    collected_at: float | None = None

    @field_validator("purposes", mode="before")
    @classmethod
    def _accept_object_form(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {code: (v.get("status", v.get("allowed")) if isinstance(v, dict) else v) for code, v in value.items()}


class ConsentRequest(Envelope):
    """A consent change for one data subject."""

    api_version: Literal["consent/v1"] = CONSENT_API_VERSION
    kind: Literal["ConsentRequest"] = "ConsentRequest"
    request: ConsentRequestBody
