"""Rows of a CSV or JSON Lines file, local or in object storage, read line by line.

A path with a scheme (``s3://``, ``gs://``, ``file://`` ...) is opened through Airflow's
``ObjectStoragePath``, which takes the connection from the URL (``s3://aws_conn@bucket/key``) or
the scheme's default and records the file as a lineage input; a plain path is opened directly.
``.gz`` files are decompressed as they are read. Text is UTF-8 unless ``encoding`` says otherwise;
a byte-order mark is dropped.

Rows are numbered among data rows: a CSV header and blank lines are not rows. A line that
cannot become a row is still a row, yielded with a problem naming the line, so the export can
reject it and go on:

- a CSV record whose field count differs from the header's;
- a CSV record that is not valid CSV (CSV is read ``strict``): a quote opened and never closed,
  text after a closing quote, a field past the field size limit. Only its first line is refused;
  the lines after it are read again as records of their own, so one stray quote cannot swallow
  the rest of the file into one value (nor the rows up to the next quote);
- a line holding bytes that are not text in the file's encoding (a latin-1 ``é`` in a UTF-8
  file): the byte and the line are named;
- a JSON Lines line that is not a JSON object.

A file that cannot be read on (a truncated or corrupt ``.gz``) stops the read with a
``ValueError`` naming the file, the line and the rows read before it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import re
import zlib
from collections.abc import Iterator, Mapping
from typing import IO, Any

from airflow_provider_braze.sources.base import EXTRA_FIELDS, RAW_LINE, BaseSource, SourceRow, close_quietly

log = logging.getLogger(__name__)

#: ``file_format`` values and the reader each selects.
FILE_FORMATS = {"csv": "csv", "tsv": "tsv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}
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
ENCODING = "utf-8-sig"
#: A byte that is not text in the file's encoding is read as U+DC80..U+DCFF (``surrogateescape``),
#: so that the row holding it is refused, naming line and byte, and the rest of the file is read on.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
#: What a corrupt or truncated gzip stream raises.
_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def escaped_byte(text: str) -> str | None:
    """The first byte of ``text`` that was not text in its file's encoding (``"0xE9"``), else ``None``."""
    if text.isascii():  # a flag read for most strings
        return None
    found = _ESCAPED_BYTE.search(text)
    return None if found is None else f"0x{ord(found.group()) - 0xDC00:02X}"


def file_format_of(path: str, file_format: str | None) -> tuple[str, bool]:
    """Return ``(format, gzipped)`` for a path: from ``file_format`` if given, else the extension.

    :param path: the file's path or URL.
    :param file_format: ``csv``, ``tsv``, ``jsonl``, ``ndjson`` or ``json`` (JSON Lines), with an
        optional ``.gz``; ``None`` to go by the extension.
    """
    name = path.rsplit("/", 1)[-1].lower()
    gzipped = name.endswith(".gz")
    if file_format is not None:
        wanted = file_format.strip().lower().lstrip(".")
        if wanted.endswith(".gz"):
            gzipped, wanted = True, wanted[:-3]
        if wanted not in FILE_FORMATS:
            raise ValueError(
                f"file_format {file_format!r} is not supported; use csv, tsv, jsonl, ndjson or json "
                "(JSON Lines), optionally with .gz"
            )
        return FILE_FORMATS[wanted], gzipped
    stem = name[:-3] if gzipped else name
    extension = stem.rsplit(".", 1)[-1] if "." in stem else ""
    if extension not in FILE_FORMATS:
        raise ValueError(
            f"cannot tell the format of {describe_path(path)!r} from its extension; name it .csv, .tsv, "
            ".jsonl, .ndjson or .json (JSON Lines), optionally .gz, or set file_format"
        )
    return FILE_FORMATS[extension], gzipped


def describe_path(path: str) -> str:
    """The path for logs: a password in a URL's user part is dropped."""
    return re.sub(r"^([a-zA-Z][\w+.-]*://[^/@:]*):[^/@]*@", r"\1@", path)


def open_text(path: Any, *, gzipped: bool, encoding: str, newline: str | None) -> tuple[IO[str], list[Any]]:
    """Open a file for streaming text reads; return it and what to close, outermost first.

    Bytes that are not text in ``encoding`` are read as lone surrogates (``surrogateescape``);
    :func:`escaped_byte` finds them.

    :param path: a local path, a URL with a scheme, or an ``ObjectStoragePath``.
    """
    from airflow.sdk import ObjectStoragePath

    errors = "surrogateescape"
    if isinstance(path, ObjectStoragePath) or "://" in str(path):
        storage_path = path if isinstance(path, ObjectStoragePath) else ObjectStoragePath(str(path))
        raw = storage_path.open("rb")
        raw.read(0)  # ObjectStoragePath records the lineage input on read(), not on iteration
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        text = io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline=newline)
        return text, [text, raw]
    if gzipped:
        text = gzip.open(os.fspath(path), "rt", encoding=encoding, errors=errors, newline=newline)  # noqa: SIM115 - closed by the source
    else:
        text = open(os.fspath(path), encoding=encoding, errors=errors, newline=newline)  # noqa: SIM115 - closed by the source
    return text, [text]


class FileSource(BaseSource):
    """Shared by the file readers: opening, closing, naming the file and line in errors.

    :param encoding: the file's text encoding (default UTF-8, with or without a byte-order mark).
    """

    def __init__(self, path: Any, *, gzipped: bool, encoding: str | None, newline: str | None) -> None:
        super().__init__()
        self.path = str(path)
        self.description = f"file {describe_path(self.path)}"
        self.total = None
        self.encoding = encoding or ENCODING
        try:
            "".encode(self.encoding)
        except LookupError:
            raise ValueError(
                f"encoding {encoding!r} is not a text encoding Python knows (utf-8, latin-1, cp1252 ...)"
            ) from None
        self._file, self._closables = open_text(path, gzipped=gzipped, encoding=self.encoding, newline=newline)

    def _release(self) -> None:
        for resource in self._closables:
            close_quietly(resource, "file")
        self._closables = []

    def _broken(self, line: int, rows: int, exc: Exception) -> ValueError:
        """The error that stops a read: the file cannot be read on after ``line``."""
        if isinstance(exc, _GZIP_ERRORS):
            what = "ends early (truncated)" if isinstance(exc, EOFError) else f"is not a valid gzip file ({exc})"
            return ValueError(
                f"{self.description} {what}: stopped after line {line}, {rows:,} rows read; "
                "the rows before it were exported"
            )
        return ValueError(f"{self.description}, line {line}: {exc}")

    def _not_text(self, line: int, byte: str, column: str | None = None) -> str:
        """A row's problem: a byte that is not text in the file's encoding."""
        name = "UTF-8" if self.encoding.lower().replace("_", "-") in ("utf-8-sig", "utf-8", "utf8") else self.encoding
        where = f", column {column}" if column else ""
        return (
            f"line {line}{where}: byte {byte} is not {name} text; if the file is in another encoding, "
            "pass it as encoding= (latin-1, cp1252 ...)"
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
                except _GZIP_ERRORS as exc:
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
        except _GZIP_ERRORS as exc:
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


class JsonLinesSource(FileSource):
    """Rows of a JSON Lines file: one JSON object per line; values keep their JSON types.

    A line that is not valid JSON, or is JSON but not an object, is yielded as a row whose data
    holds the line's text under :data:`~airflow_provider_braze.sources.base.RAW_LINE`, with a
    problem naming the line. Blank lines are skipped: they are not rows, but they count in line
    numbers. A file that is one JSON array is refused with a clear error.

    :param path: local path, URL or ``ObjectStoragePath``.
    :param gzipped: decompress while reading.
    """

    def __init__(self, path: Any, *, gzipped: bool = False, encoding: str | None = None) -> None:
        super().__init__(path, gzipped=gzipped, encoding=encoding, newline=None)

    def _rows(self) -> Iterator[SourceRow]:
        loads = json.loads
        ref = 0
        line_number = 0
        try:
            for line in self._file:
                line_number += 1
                if not line.isascii():
                    byte = escaped_byte(line)
                    if byte is not None:
                        ref += 1
                        yield (ref, {RAW_LINE: line.rstrip("\r\n")}, self._not_text(line_number, byte))
                        continue
                try:
                    value = loads(line)
                except (ValueError, RecursionError) as exc:  # RecursionError: nested thousands deep
                    if line.isspace() or not line:
                        continue
                    self._refuse_array(ref, line)
                    ref += 1
                    yield (
                        ref,
                        {RAW_LINE: line.rstrip("\r\n")},
                        f"line {line_number}: not valid JSON ({_why(exc, line)})",
                    )
                    continue
                ref += 1
                if type(value) is dict:
                    yield (ref, value, None)
                else:
                    self._refuse_array(ref - 1, line)
                    kind = _JSON_KINDS.get(type(value), type(value).__name__)
                    yield (ref, {RAW_LINE: line.rstrip("\r\n")}, f"line {line_number}: a JSON {kind}, not an object")
        except _GZIP_ERRORS as exc:
            raise self._broken(line_number, ref, exc) from exc
        finally:
            self.rows_read = ref
            self.close()

    def _refuse_array(self, rows_before: int, line: str) -> None:
        if rows_before == 0 and line.lstrip().startswith("["):
            raise ValueError(
                f"{self.description} holds a JSON array, not JSON Lines; write one JSON object per line "
                "(newline-delimited JSON), or pass the list as records"
            )


def _why(exc: ValueError | RecursionError, line: str) -> str:
    if isinstance(exc, RecursionError):
        return "objects or arrays nested too deep to read"
    if not isinstance(exc, json.JSONDecodeError):
        return str(exc)
    if exc.pos >= len(line.rstrip("\r\n")):
        return f"{exc.msg} at the end of the line"
    return f"{exc.msg} at column {exc.pos + 1}"


_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def _unique_columns(fieldnames: Any, description: str) -> tuple[str, ...]:
    columns = tuple(fieldnames)
    seen: set[str] = set()
    twice = []
    for column in columns:
        if column in seen:
            twice.append(column)
        seen.add(column)
    if twice:
        raise ValueError(f"{description} has more than one column named {', '.join(map(repr, dict.fromkeys(twice)))}")
    return columns
