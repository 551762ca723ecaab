"""Pieces shared by every Ketch forwarder message: the envelope, identities, statuses, the error body.

Field names are snake_case in Python and camelCase on the wire (``identity_space`` is ``identitySpace``);
models accept either spelling and always serialise to the wire spelling.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Final keeps each constant's literal type, so it can be the default of a ``Literal[...]`` field.
SUBSCRIPTION_API_VERSION: Final = "subscription/v1"
CONSENT_API_VERSION: Final = "consent/v1"
DSR_API_VERSION: Final = "dsr/v1"

#: Longest ``metadata.uid`` accepted. Ketch sends a UUIDv4 (36 characters); the cap only keeps the
#: idempotency key column small.
MAX_UID_LENGTH = 128


class KetchModel(BaseModel):
    """Base of every forwarder model: camelCase aliases, unknown fields ignored (Ketch may add some)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
    )

    def to_dict(self) -> dict[str, Any]:
        """Return the wire form: camelCase keys, unset optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_json(self) -> str:
        """Return the wire form as compact JSON text."""
        return json.dumps(self.to_dict(), separators=(",", ":"))


def _normalise_status(value: Any) -> Any:
    """Accept the spellings Ketch has used for a yes/no preference and return ``granted``/``denied``.

    ``allowed`` is the pre-2023-04 spelling of ``granted``; the Web API's consent purposes use
    ``"true"``/``"false"``. Anything else is passed on for the ``Literal`` check to reject.
    """
    if isinstance(value, bool):
        return "granted" if value else "denied"
    if isinstance(value, str):
        text = value.strip().lower()
        return {"allowed": "granted", "true": "granted", "false": "denied"}.get(text, text)
    return value


#: A subscription, control or consent decision, after :func:`_normalise_status`.
PreferenceStatus = Annotated[Literal["granted", "denied"], BeforeValidator(_normalise_status)]

IdentityFormat = Literal["raw", "md5", "sha1"]


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class Metadata(KetchModel):
    """The ``metadata`` of every message.

    :param uid: unique per request (a UUIDv4); the receiver's idempotency key.
    :param tenant: the Ketch organisation code.
    """

    uid: str = Field(min_length=1, max_length=MAX_UID_LENGTH)
    tenant: str | None = None


class Identity(KetchModel):
    """One identity of the data subject, e.g. ``{"identitySpace": "email", "identityValue": "a@b.c"}``.

    Frozen so that it can key a dict when changes are collapsed per identity. The value is left out
    of ``repr`` because it is personal data.

    :param identity_space: the Ketch identity space code (``email``, ``account_id``...).
    :param identity_format: ``raw`` (default), ``md5`` or ``sha1``; a hashed value cannot be sent to
        Braze as an email or external id.
    :param identity_value: the identifier itself (numbers are accepted and kept as text).
    """

    model_config = ConfigDict(frozen=True, coerce_numbers_to_str=True)

    identity_space: str = Field(min_length=1)
    identity_format: Annotated[IdentityFormat, BeforeValidator(_lower)] = "raw"
    identity_value: str = Field(repr=False)

    @property
    def is_hashed(self) -> bool:
        """Whether the value is a digest rather than the identifier itself."""
        return self.identity_format != "raw"


def require_usable_identity(identities: list[Identity]) -> list[Identity]:
    """Reject a request none of whose identities has a value: nothing could be done with it."""
    if not any(i.identity_value.strip() for i in identities):
        raise ValueError("at least one identity with a non-empty identityValue is required")
    return identities


class Envelope(KetchModel):
    """The first fields of every message but :class:`Error`: each message fixes ``apiVersion`` and ``kind``.

    :param metadata: the request's ``metadata``, sent back in its answers and status events.
    """

    api_version: str
    kind: str
    metadata: Metadata


class RegulatedRequestBody(KetchModel):
    """The fields a consent or rights ``request`` starts with: where it came from, under which law, whose it is.

    :param identities: who the request is about; at least one must have a value.
    """

    controller: str | None = None
    property: str | None = None
    environment: str | None = None
    regulation: str | None = None
    jurisdiction: str | None = None
    identities: Annotated[list[Identity], AfterValidator(require_usable_identity)]


ErrorStatus = Literal[
    "conflict",
    "internal",
    "unavailable",
    "invalid",
    "not_found",
    "timeout",
    "canceled",
    "forbidden",
    "configuration",
    "unimplemented",
]


class ErrorBody(KetchModel):
    """The ``error`` of an :class:`Error` message.

    :param code: the HTTP status code sent with it.
    :param status: one of Ketch's error statuses (``invalid``, ``forbidden``, ``unavailable``...).
    :param message: a human-readable reason. Never put personal data or secrets in it.
    """

    code: int
    status: ErrorStatus
    message: str = ""


class Error(KetchModel):
    """The forwarder error envelope, answered in place of a normal response."""

    api_version: str | None = None
    kind: Literal["Error"] = "Error"
    metadata: Metadata | None = None
    error: ErrorBody
