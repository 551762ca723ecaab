"""Identities of made-up data subjects, as Ketch sends them: ``{identitySpace, identityFormat, identityValue}``.

Kinds of identity a sandbox can generate:

=============  ====================  ===================================================
kind           default space code    values
=============  ====================  ===================================================
``email``      ``email``             ``user17@example.com``
``external_id``  ``external_id``     ``user-00017`` (an account id, Braze ``external_id``)
``phone``      ``phone``             E.164, ``+15550000017`` (555: a fictional area code)
=============  ====================  ===================================================

Any kind can be sent hashed (``identityFormat`` ``md5`` or ``sha1``): the value is then the hex digest
of the raw value, which is what Ketch sends when a property hashes identities, and which the provider
must skip because Braze cannot use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from airflow_provider_braze.ketch.models import Identity

IdentityKind = Literal["email", "external_id", "phone"]
HashFormat = Literal["md5", "sha1"]

IDENTITY_KINDS: tuple[str, ...] = ("email", "external_id", "phone")


def raw_value(kind: str, number: int) -> str:
    """The ``number``-th made-up identifier of a kind (``email``, ``external_id`` or ``phone``)."""
    if kind == "email":
        return f"user{number}@example.com"
    if kind == "external_id":
        return f"user-{number:05d}"
    if kind == "phone":
        return f"+1555{number:07d}"
    raise ValueError(f"unknown identity kind {kind!r}; expected one of {', '.join(IDENTITY_KINDS)}")


def hashed(value: str, algorithm: HashFormat) -> str:
    """Hex digest of an identifier, as Ketch sends a hashed identity (emails are lower-cased first)."""
    text = value.strip().lower() if "@" in value else value.strip()
    return hashlib.new(algorithm, text.encode("utf-8")).hexdigest()


def make_identities(
    count: int,
    kind: IdentityKind = "email",
    *,
    space: str | None = None,
    hash_format: HashFormat | None = None,
    first: int = 1,
) -> list[Identity]:
    """``count`` distinct identities of one kind.

    :param count: how many.
    :param kind: ``email``, ``external_id`` or ``phone``.
    :param space: the Ketch identity space code; the kind's name when omitted.
    :param hash_format: ``md5`` or ``sha1`` to send digests instead of raw values.
    :param first: number of the first identity (``user1@example.com`` by default).
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    identities = []
    for number in range(first, first + count):
        value = raw_value(kind, number)
        identities.append(
            Identity(
                identity_space=space or kind,
                identity_format=hash_format or "raw",
                identity_value=hashed(value, hash_format) if hash_format else value,
            )
        )
    return identities


def as_identity(value: Identity | Mapping[str, Any] | str, default_space: str = "email") -> Identity:
    """Read an :class:`Identity`, a wire-form dict, or a bare value (in ``default_space``, raw)."""
    if isinstance(value, Identity):
        return value
    if isinstance(value, Mapping):
        return Identity.model_validate(value)
    if isinstance(value, str):
        return Identity(identity_space=default_space, identity_value=value)
    raise TypeError(f"an identity is an Identity, a dict or a string, not {type(value).__name__}")


def as_identities(value: Any, default_space: str = "email") -> list[Identity]:
    """Read one identity or several (see :func:`as_identity`) into a non-empty list."""
    items: Iterable[Any] = [value] if isinstance(value, (Identity, Mapping, str)) else value
    identities = [as_identity(item, default_space) for item in items]
    if not identities:
        raise ValueError("at least one identity is required")
    return identities


def identity_key(identity: Identity) -> tuple[str, str]:
    """``(identitySpace, identityValue)``: how the sandbox files a subject's web API state."""
    return identity.identity_space, identity.identity_value
