"""Rows of a CSV (or TSV) file with a header line, read record by record.

A record that cannot become a row is still a row, yielded with a problem naming its line: one
whose field count differs from the header's, or one that is not valid CSV (read ``strict``). Of a
record that is not valid CSV only the first line is refused; the lines after it are read again as
records of their own, so one stray quote cannot swallow the rest of the file.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Mapping
from typing import IO, Any

from airflow_provider_braze.sources.base import EXTRA_FIELDS, RAW_LINE, SourceRow, repeated_columns
from airflow_provider_braze.sources.text_file import GZIP_ERRORS, FileSource, escaped_byte

log = logging.getLogger(__name__)

#: What ``csv_options`` may hold: the ``csv.reader`` format parameters, plus ``fieldnames`` (for a
#: file without a header line) and ``encoding`` (for a file that is not UTF-8).
CSV_OPTIONS = frozenset(
    {
        "dialect",
        "delimiter",
        "quotechar",
        "escapechar",
        "doublequote",
        "skipinitialspace",
        "lineterminator",
        "quoting",
        "strict",
        "fieldnames",
        "encoding",
    }
)


class _Lines:
    """A file's lines for ``csv.reader``, numbered, keeping the lines of the record being read.

    When a record turns out broken, its first line is refused and the others are read again
    (:meth:`drop_first`), so a stray quote costs one row, not the rest of the file.
    """

    __slots__ = ("_again", "_source", "bad", "line", "record")

    def __init__(self, source: IO[str]) -> None:
        self._source = source
        self._again: list[str] = []  # lines to read again, last first
        self.line = 0  # lines handed out so far
        self.record: list[str] = []  # lines of the record being read
        self.bad: tuple[int, str] | None = None  # (line, byte) of the record's first undecodable byte

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        text = self._again.pop() if self._again else next(self._source)
        self.line += 1
        self.record.append(text)
        if self.bad is None and not text.isascii():
            byte = escaped_byte(text)
            if byte is not None:
                self.bad = (self.line, byte)
        return text

    def start_record(self) -> int:
        """Forget the last record's lines; return the number of the next record's first line."""
        self.record = []
        self.bad = None
        return self.line + 1

    def drop_first(self) -> str:
        """The record's first line; the lines after it will be read again."""
        first, rest = self.record[0], self.record[1:]
        self._again.extend(reversed(rest))
        self.line -= len(rest)
        self.record = []
        return first


class CsvSource(FileSource):
    """Rows of a CSV file with a header line; values are text.

    A record with more fields than the header is yielded with its header fields, the rest under
    :data:`~airflow_provider_braze.sources.base.EXTRA_FIELDS`, and a problem; one with fewer
    fields with the fields it has and a problem. A record that is not valid CSV, or that spans
    several lines through a quote and still has the wrong field count, is yielded as its first line
    (under :data:`~airflow_provider_braze.sources.base.RAW_LINE`) with a problem, and the lines
    after that first one are read again. Problems name the line. Blank lines are skipped, as
    ``csv.DictReader`` does.

    :param path: local path, URL or ``ObjectStoragePath``.
    :param gzipped: decompress while reading.
    :param csv_options: ``csv.reader`` format parameters (``delimiter``, ``quotechar``,
        ``escapechar``, ``doublequote``, ``skipinitialspace``, ``quoting``, ``strict``,
        ``dialect``), ``fieldnames`` for a file without a header, ``encoding``. ``strict`` is on
        unless set: without it Python's reader accepts an unclosed quote and reads the rest of the
        file into one value.
    :param delimiter: the default delimiter (``\\t`` for TSV) when ``csv_options`` has none.
    :param encoding: the file's text encoding (``csv_options["encoding"]`` wins); default UTF-8.

    :ivar columns: the header's column names.
    """

    def __init__(
        self,
        path: Any,
        *,
        gzipped: bool = False,
        csv_options: Mapping[str, Any] | None = None,
        delimiter: str = ",",
        encoding: str | None = None,
    ) -> None:
        options = dict(csv_options or {})
        unknown = sorted(set(options) - CSV_OPTIONS)
        if unknown:
            raise ValueError(f"csv_options {unknown} are not known; use {', '.join(sorted(CSV_OPTIONS))}")
        fieldnames = options.pop("fieldnames", None)
        encoding = options.pop("encoding", None) or encoding
        if "dialect" not in options:
            options.setdefault("delimiter", delimiter)
            options.setdefault("strict", True)
        super().__init__(path, gzipped=gzipped, encoding=encoding, newline="")
        try:
            self._options = options
            self._lines = _Lines(self._file)
            try:
                self._reader = csv.reader(self._lines, **options)
            except TypeError as exc:
                raise ValueError(f"csv_options are not valid for csv.reader: {exc}") from None
            if fieldnames is None:
                try:
                    header = next(self._reader, None)
                except csv.Error as exc:
                    raise ValueError(f"{self.description}, line 1: the header is not valid CSV ({exc})") from exc
                except GZIP_ERRORS as exc:
                    raise self._broken(0, 0, exc) from exc
                if header is None:
                    log.warning("%s is empty: no header, no rows", self.description)
                elif self._lines.bad is not None:
                    line, byte = self._lines.bad
                    raise ValueError(f"{self.description}, the header: {self._not_text(line, byte)}")
                fieldnames = header or []
            self.columns = _unique_columns(fieldnames, self.description)
        except BaseException:
            self.close()
            raise

    def _rows(self) -> Iterator[SourceRow]:
        header = self.columns
        width = len(header)
        lines, reader = self._lines, self._reader
        ref = 0
        try:
            while True:
                start = lines.start_record()
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    if not lines.record:
                        raise
                    ref += 1
                    yield self._unreadable(ref, start, str(exc))
                    reader = csv.reader(lines, **self._options)  # a fresh reader: no state from the broken record
                    continue
                if not fields:
                    continue
                if len(fields) != width and lines.line > start:
                    # Several lines joined by quotes into a record that still does not fit the
                    # header: a quote left open, closed by some later line's quote.
                    ref += 1
                    yield self._unreadable(
                        ref,
                        start,
                        f"a quote opened here closes on line {lines.line}, "
                        f"and the record has {len(fields)} fields where the header has {width}",
                    )
                    reader = csv.reader(lines, **self._options)
                    continue
                ref += 1
                if lines.bad is not None:
                    line, byte = lines.bad
                    data: dict[str, Any] = dict(zip(header, fields, strict=False))
                    column = next((c for c, v in data.items() if escaped_byte(v)), None)
                    yield (ref, data, self._not_text(line, byte, column))
                elif len(fields) == width:
                    yield (ref, dict(zip(header, fields, strict=False)), None)
                else:
                    yield (ref, *self._ragged(fields, lines.line))
        except GZIP_ERRORS as exc:
            raise self._broken(lines.line, ref, exc) from exc
        finally:
            self.rows_read = ref
            self.close()

    def _unreadable(self, ref: int, start: int, why: str) -> SourceRow:
        """A record that is not CSV: its first line as the row; the lines after it are read again."""
        first = self._lines.drop_first()
        column = _open_quote_column(first, self._options, self.columns)
        where = f", column {column}" if column else ""
        return (
            ref,
            {RAW_LINE: first.rstrip("\r\n")},
            f"line {start}{where}: not valid CSV ({why}); the lines after it are read as rows of their own",
        )

    def _ragged(self, fields: list[str], line: int) -> tuple[dict[str, Any], str]:
        header = self.columns
        data: dict[str, Any] = dict(zip(header, fields, strict=False))
        problem = f"line {line}: {len(fields)} fields where the header has {len(header)}"
        if len(fields) > len(header):
            data[EXTRA_FIELDS] = fields[len(header) :]
        else:
            missing = header[len(fields) :]
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            problem += f" ({shown} missing)"
        return data, problem


def _open_quote_column(line: str, options: Mapping[str, Any], header: tuple[str, ...]) -> str | None:
    """The column whose field a broken line's trouble starts in (its last field, read leniently)."""
    try:
        fields = next(csv.reader([line], **{**options, "strict": False}), [])
    except csv.Error:
        return None
    index = len(fields) - 1
    return header[index] if 0 <= index < len(header) else None


def _unique_columns(fieldnames: Any, description: str) -> tuple[str, ...]:
    columns = tuple(fieldnames)
    twice = repeated_columns(columns)
    if twice:
        raise ValueError(f"{description} has more than one column named {', '.join(map(repr, twice))}")
    return columns
