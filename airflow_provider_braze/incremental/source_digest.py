"""Source-row digests: how an incremental attributes run knows a row is unchanged without building it.

Building a Braze object from a row (conversions, validation, nested JSON) costs more than reading
it, and on an incremental run almost every row is as it was. So each source row is digested as read,
and the ledger keeps, per user, the digest of the row Braze last accepted: a row whose digest is some
user's current one is that user's unchanged row, settled by one index probe.

The digest is BLAKE2b-128, keyed with the ledger's salt, over:

- a *context*: the sync's id, the partition, the record builder's settings
  (:meth:`~airflow_provider_braze.records.builder.RowBuilder.settings`) and this package's version.
  Rows read again under another builder setting, partition split or release are built and compared
  value by value (so only real changes are sent), then carry the new digest;
- the Python type of each value, so a column whose type changed (text to date, say) is a change
  even where both encode alike;
- the row as MessagePack (column names and values, in column order); a row holding a value
  MessagePack cannot encode gets a random digest instead (never settled: built and compared).

A builder whose settings cannot be told gets a context of random bytes: its rows are never settled
by digest, only by their values after building.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from airflow_provider_braze import __version__

_DIGEST = 16
#: Distinct column-type combinations remembered; sparse rows can make many, then it starts over.
_MAX_KINDS = 4096


def source_digester(salt: bytes, context: str | None) -> Callable[[Mapping[str, Any]], bytes]:
    """A function from a source row to its digest.

    :param salt: the ledger's salt (the digest is keyed: a stolen ledger cannot be matched to rows).
    :param context: what besides the row shapes its object (see the module); ``None`` for a builder
        whose settings cannot be told: its digests then match nothing stored.
    """
    keyed = hashlib.blake2b(digest_size=_DIGEST, key=salt, person=b"source_row")
    seed = f"{__version__}\x00{context}".encode() if context is not None else os.urandom(16)
    keyed.update(len(seed).to_bytes(4, "big") + seed)
    encode = msgspec.msgpack.Encoder().encode
    kinds: dict[tuple[type, ...], bytes] = {}

    def digest(row: Mapping[str, Any]) -> bytes:
        types = tuple(map(type, row.values()))
        tag = kinds.get(types)
        if tag is None:
            if len(kinds) >= _MAX_KINDS:
                kinds.clear()
            tag = kinds[types] = ",".join(f"{t.__module__}.{t.__qualname__}" for t in types).encode() + b"\x00"
        try:
            data = encode(row)
        except (TypeError, ValueError, OverflowError):
            # A type MessagePack lacks (a driver's own), a lone surrogate (a UnicodeEncodeError, so a
            # ValueError), an integer beyond 64 bits (which the builder refuses): no faithful bytes, so a
            # digest that matches nothing: the row is built and compared by its values.
            return os.urandom(_DIGEST)
        h = keyed.copy()
        h.update(tag)
        h.update(data)
        return h.digest()

    return digest
