"""Rows of a list of records given to the operator, e.g. pulled from XCom."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from airflow_provider_braze.rendered import parse_rendered
from airflow_provider_braze.sources.base import BaseSource, SourceRow


class RecordsSource(BaseSource):
    """The records of a list, in order, refs 1..n; each mapping is passed on as it is, not copied.

    :param records: a sequence of mappings, or the text of one: rendered templates are text, so a
        JSON list (or the Python ``repr`` of a list, as Jinja renders one) is accepted too.
    """

    def __init__(self, records: Sequence[Mapping[str, Any]] | str | bytes) -> None:
        super().__init__()
        self.records = as_records(records)
        self.total = len(self.records)
        self.description = f"{self.total} records"

    def _rows(self) -> Iterator[SourceRow]:
        ref = 0
        try:
            for ref, record in enumerate(self.records, 1):
                yield (ref, record, None)
        finally:
            self.rows_read = ref
            self.close()

    def _release(self) -> None:
        """A list holds no cursor, connection or file."""


def as_records(records: Any) -> Sequence[Mapping[str, Any]]:
    """Check that ``records`` is a list of mappings (parsing it first if it is text) and return it.

    :raises ValueError: naming the first element that is not a mapping.
    """
    if isinstance(records, (str, bytes, bytearray)):
        records = _parse(records)
    if isinstance(records, Mapping):
        raise ValueError("records is a single mapping; give a list of mappings, e.g. [record]")
    if not isinstance(records, Sequence):
        raise ValueError(
            f"records must be a list of mappings, got a {type(records).__name__}"
            + ("; make a list of it first" if hasattr(records, "__iter__") else "")
        )
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise ValueError(
                f"records[{index}] is a {type(record).__name__}, not a mapping; records must be a list of "
                "mappings (column name to value)"
            )
    return records


def _parse(text: str | bytes | bytearray) -> Any:
    try:
        return parse_rendered(text)
    except ValueError as exc:
        raise ValueError(f"records is text that is not a JSON list of objects: {exc}") from None
