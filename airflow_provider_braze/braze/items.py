"""The unit that flows from record builders to the sender: one Braze object and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Item:
    """One object for one array of a Braze request body.

    :param key: the body array it belongs to (``attributes``, ``events``, ``user_aliases``,
        ``external_ids`` ...); one of the endpoint's ``body_keys``.
    :param value: the JSON value placed in that array (an object, or a plain string for id lists).
    :param ref: the caller's reference, returned with the outcome (a source row number, say).
    :param sync: what the sync ledger records once Braze answers for this object
        (an :class:`~airflow_provider_braze.incremental.planner.Entry`), set by the incremental stage.
    """

    key: str
    value: Any
    ref: Any = None
    sync: Any = None


#: Not an object: tells the batcher to send the batches it holds open now, partial or not. The
#: incremental stage passes it when a row must wait for an earlier row of its user to be answered
#: (see :mod:`airflow_provider_braze.incremental.planner`); every stage between passes it on.
FLUSH = Item("", None)


@dataclass(frozen=True, slots=True)
class InvalidRecord:
    """A source row that cannot become a valid Braze object, and why; it is never sent.

    The summary counts it as ``skipped``; ``rejected`` counts only objects Braze itself refused.

    :param ref: the source row reference (row number, 1-based for files and queries).
    :param column: the column at fault, or ``None`` when the row as a whole is at fault.
    :param reason: a sentence a data engineer can act on.
    :param row: the offending row, kept for the rejected-records file.
    """

    ref: Any
    column: str | None
    reason: str
    row: Any = None

    def __str__(self) -> str:
        where = f"row {self.ref}" + (f", column {self.column!r}" if self.column else "")
        return f"{where}: {self.reason}"
