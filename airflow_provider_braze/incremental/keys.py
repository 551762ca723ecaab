"""What the sync ledger keys on: whose object it is, what its values are, which event it is.

All of it is derived from the Braze object a record builder made, never from source rows, so a CSV
file, a JSON Lines file and a SQL query holding the same data give the same keys. (The one key taken
from source rows, the digest that settles an unchanged row before it is built, is in
:mod:`.source_digest`.)

- **Identity**: the identifier Braze finds the user by, in Braze's order of precedence
  (``external_id``, ``braze_id``, ``user_alias``, ``email``, ``phone``), as text such as
  ``external_id:u-17``. It is stored only hashed (:func:`user_hash`, keyed with the ledger's salt).
- **Attribute fingerprints**: 64 bits of BLAKE2b per attribute value, so "did this value change"
  costs one dictionary lookup. Operations (``inc``, ``add``, ``remove``, ``$add`` ...) are not
  values: they are always sent and leave no fingerprint.
- **Event keys**: an event or purchase is known by the value of ``event_key_column`` when given,
  else by :func:`object_key` of the object as sent, without its processing flags: the user, the
  name or product, the time, the properties and, for purchases, currency, price and quantity. Two
  rows equal in all of these are the same event.

https://www.braze.com/docs/api/objects_filters/user_attributes_object/ (identifiers, operations)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

#: Identifier fields of a /users/track object, in the order Braze looks users up.
IDENTITY_FIELDS = ("external_id", "braze_id", "user_alias", "email", "phone")
#: Fields that steer processing: never diffed, never part of a key.
PROCESSING_FLAGS = frozenset({"_update_existing_only", "_merge_objects", "push_token_import"})
#: Keys of an attribute value that make it an operation on what Braze holds, not a value.
OPERATION_KEYS = frozenset({"inc", "add", "remove", "$add", "$remove", "$update"})
#: Operations that change Braze's state again each time they are applied.
NON_IDEMPOTENT_OPERATIONS = frozenset({"inc", "$add"})

_DIGEST = 16
_encoder = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)


def identity(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(field, text)`` of the identifier Braze finds this object's user by, or ``None``.

    :param obj: a /users/track object, or an identity endpoint's object with the same field names.
    """
    for name in IDENTITY_FIELDS:
        value = obj.get(name)
        if value is None:
            continue
        if name == "user_alias" and isinstance(value, Mapping):
            return name, f"{value.get('alias_label')}\x00{value.get('alias_name')}"
        return name, str(value)
    if obj.get("alias_name") is not None:  # the alias endpoints' own objects
        return "user_alias", f"{obj.get('alias_label')}\x00{obj.get('alias_name')}"
    return None


def identity_text(obj: Mapping[str, Any]) -> str | None:
    """The identity as one string (``external_id:u-17``), or ``None`` when the object has none."""
    found = identity(obj)
    return None if found is None else f"{found[0]}:{found[1]}"


def user_hash(salt: bytes, text: str) -> bytes:
    """The ledger's key for a user: BLAKE2b-128 keyed with the store's salt, so a stolen ledger cannot
    be matched against a list of known emails or phones."""
    return user_hasher(salt)(text)


def user_hasher(salt: bytes) -> Callable[[str], bytes]:
    """:func:`user_hash` for one salt, for hot loops: copying a keyed hasher costs less than keying a new one."""
    keyed = hashlib.blake2b(digest_size=_DIGEST, key=salt)

    def hash_user(text: str) -> bytes:
        h = keyed.copy()
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.digest()

    return hash_user


def partition_of(text: str, count: int) -> int:
    """Which of ``count`` partitions a user belongs to: stable across runs, hosts and Python versions
    (unlike ``hash()``, which is salted per process)."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8, person=b"partition").digest()
    return int.from_bytes(digest, "big") % count


def fingerprint(value: Any) -> int:
    """64 bits standing for one attribute value; equal values (as Braze would store them) give equal bits.

    Each kind is tagged, so ``"1"``, ``1``, ``1.0`` and ``true`` differ; objects are hashed with
    sorted keys, so key order does not matter.
    """
    kind = type(value)
    if kind is str:
        data = b"s" + value.encode("utf-8", "surrogatepass")
    elif kind is bool:
        data = b"b1" if value else b"b0"
    elif kind is int:
        data = b"i%d" % value
    elif kind is float:
        data = b"f" + repr(value).encode()
    elif value is None:
        data = b"n"
    else:
        data = b"j" + _encoder.encode(value).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def is_operation(value: Any) -> bool:
    """Whether an attribute value is an operation on what Braze holds (``{"inc": 1}``, ``{"add": [...]}``)."""
    return type(value) is dict and not OPERATION_KEYS.isdisjoint(value)


def is_repeatable_operation(value: Any) -> bool:
    """Whether applying the operation twice leaves Braze as applying it once (``add``/``remove`` on a
    set-like array do; ``inc`` and ``$add`` do not)."""
    return NON_IDEMPOTENT_OPERATIONS.isdisjoint(value)


def object_key(obj: Mapping[str, Any], salt: bytes) -> bytes:
    """A stable key for an event or purchase: BLAKE2b-128 of the object without processing flags."""
    body = {k: v for k, v in obj.items() if k not in PROCESSING_FLAGS}
    return hashlib.blake2b(
        _encoder.encode(body).encode("utf-8", "surrogatepass"), digest_size=_DIGEST, key=salt
    ).digest()


def column_key(value: Any, salt: bytes) -> bytes:
    """The key of an event or purchase named by a unique column (``event_key_column``)."""
    return hashlib.blake2b(
        str(value).encode("utf-8", "surrogatepass"), digest_size=_DIGEST, key=salt, person=b"event_key"
    ).digest()
