"""What every row source is: a one-pass stream of ``(ref, data, problem)`` tuples that owns its resources."""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+

log = logging.getLogger(__name__)

#: One source row: ``(ref, data, problem)``.
#:
#: - ``ref``: the 1-based number of the row among the source's data rows (a CSV header and blank
#:   lines are not rows), the reference the record builder, the ledger and the report use;
#: - ``data``: column name to value, with the driver's types for SQL (``datetime``, ``Decimal``,
#:   ``bool`` ...), text for CSV, JSON types for JSON Lines, the caller's objects for lists;
#: - ``problem``: ``None`` for a good row, else the sentence saying why the row could not be read
#:   ("line 7: 3 fields where the header has 4 (score missing)"); ``data`` then holds what could be
#:   read, for the rejected-records file, and the row must not be built.
#:
#: A plain tuple, not a dataclass: the export loop unpacks millions of them
#: (``for ref, data, problem in source``), and a frozen dataclass costs about twice as much per
#: row as the tuple (500 ns against 30 ns, measured), as much as reading the row itself.
SourceRow = tuple[int, Mapping[str, Any], "str | None"]

#: Key under which a CSV row's fields past the header are kept in a problem row's ``data``.
EXTRA_FIELDS = "_extra_fields"
#: Key under which the text of a JSON Lines line that is not an object is kept in ``data``.
RAW_LINE = "_raw_line"


@runtime_checkable
class RowSource(Protocol):
    """A stream of source rows for an export, read once.

    :ivar description: what is read, for logs and lineage ("sqlite_default: SELECT ...",
        "file s3://bucket/x.csv", "12 records").
    :ivar total: the number of rows when known before reading (lists, SQL with ``count_rows``),
        else ``None``.
    """

    description: str
    total: int | None

    def __iter__(self) -> Iterator[SourceRow]:
        """Yield ``(ref, data, problem)`` for each row; closes the source when the rows run out."""
        ...

    def close(self) -> None:
        """Release the cursor, connection or file; safe to call more than once."""
        ...


class BaseSource(abc.ABC):
    """Shared machinery: read-once iteration, idempotent close, context manager, a closing log line.

    Subclasses set :attr:`description` and :attr:`total`, implement :meth:`_rows` (a generator that
    keeps :attr:`rows_read` current at least at its end) and :meth:`_release`.

    :ivar rows_read: rows yielded so far (kept per batch or at the end, not per row).
    """

    description: str = ""
    total: int | None = None

    def __init__(self) -> None:
        self.rows_read = 0
        self._started = False
        self._closed = False
        self._opened_at = time.monotonic()

    def __iter__(self) -> Iterator[SourceRow]:
        if self._closed:
            raise RuntimeError(f"{self.description} is closed; open the source again to read it")
        if self._started:
            raise RuntimeError(f"{self.description} is a stream and has already been read; open it again")
        self._started = True
        return self._rows()

    @abc.abstractmethod
    def _rows(self) -> Iterator[SourceRow]:
        """Yield the rows; the generator keeps :attr:`rows_read` current at least at its end."""

    @abc.abstractmethod
    def _release(self) -> None:
        """Close the cursor, connection or file."""

    def close(self) -> None:
        """Release what the source holds; safe to call more than once, and called at the end of the rows."""
        if self._closed:
            return
        self._closed = True
        try:
            self._release()
        finally:
            if self._started:
                log.info(
                    "Read %d rows from %s in %.1f s",
                    self.rows_read,
                    self.description,
                    time.monotonic() - self._opened_at,
                )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


def close_quietly(resource: Any, what: str) -> None:
    """Close ``resource``, logging instead of raising: closing must not hide the error that led to it."""
    if resource is None:
        return
    try:
        resource.close()
    except Exception as exc:  # noqa: BLE001 - any driver error while closing is only worth a warning
        log.warning("Could not close the %s cleanly: %s", what, exc)


def repeated_columns(columns: Iterable[str]) -> list[str]:
    """The column names that stand more than once in ``columns``, each named once, in order of first repeat.

    A row is a mapping, so of two columns with one name one would silently replace the other.
    """
    seen: set[str] = set()
    twice: dict[str, None] = {}
    for column in columns:
        if column in seen:
            twice[column] = None
        seen.add(column)
    return list(twice)
