"""Rows of a CSV or JSON Lines file, local or in object storage, read line by line.

A path with a scheme (``s3://``, ``gs://``, ``file://`` ...) is opened through Airflow's
``ObjectStoragePath``, which takes the connection from the URL (``s3://aws_conn@bucket/key``) or
the scheme's default and records the file as a lineage input; a plain path is opened directly.
``.gz`` files are decompressed as they are read. Text is UTF-8; a byte-order mark is dropped.

Rows are numbered among data rows: a CSV header and blank lines are not rows. A line that
cannot become a row (a CSV record whose field count differs from the header's, a JSON Lines
line that is not a JSON object) is still a row, yielded with a problem naming the line, so the
export can reject it and go on. Broken files (bad quoting in ``strict`` mode, a field past the
CSV field size limit, bytes that are not UTF-8) stop the read with a ``ValueError`` naming the
file and line.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import re
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

    :param path: a local path, a URL with a scheme, or an ``ObjectStoragePath``.
    """
    from airflow.sdk import ObjectStoragePath

    if isinstance(path, ObjectStoragePath) or "://" in str(path):
        storage_path = path if isinstance(path, ObjectStoragePath) else ObjectStoragePath(str(path))
        if gzipped:
            raw = storage_path.open("rb")
            text = io.TextIOWrapper(gzip.GzipFile(fileobj=raw, mode="rb"), encoding=encoding, newline=newline)
            return text, [text, raw]
        text = storage_path.open("r", encoding=encoding, newline=newline)
        text.read(0)  # ObjectStoragePath records the lineage input on read(), not on iteration
        return text, [text]
    if gzipped:
        text = gzip.open(os.fspath(path), "rt", encoding=encoding, newline=newline)
    else:
        text = open(os.fspath(path), encoding=encoding, newline=newline)  # noqa: SIM115 - closed by the source
    return text, [text]


class FileSource(BaseSource):
    """Shared by the file readers: opening, closing, turning decode errors into clear ones."""

    def __init__(self, path: Any, *, gzipped: bool, encoding: str, newline: str | None) -> None:
        super().__init__()
        self.path = str(path)
        self.description = f"file {describe_path(self.path)}"
        self.total = None
        self._file, self._closables = open_text(path, gzipped=gzipped, encoding=encoding, newline=newline)

    def _release(self) -> None:
        for resource in self._closables:
            close_quietly(resource, "file")
        self._closables = []

    def _broken(self, line: int, exc: Exception) -> ValueError:
        if isinstance(exc, UnicodeDecodeError):
            return ValueError(f"{self.description} is not {exc.encoding} text (after line {line}): {exc.reason}")
        return ValueError(f"{self.description}, line {line}: {exc}")


class CsvSource(FileSource):
    """Rows of a CSV file with a header line; values are text.

    A record with more fields than the header is yielded with its header fields, the rest under
    :data:`~airflow_provider_braze.sources.base.EXTRA_FIELDS`, and a problem; one with fewer
    fields with the fields it has and a problem. Problems name the line on which the record ends.
    Blank lines are skipped, as ``csv.DictReader`` does.

    :param path: local path, URL or ``ObjectStoragePath``.
    :param gzipped: decompress while reading.
    :param csv_options: ``csv.reader`` format parameters (``delimiter``, ``quotechar``,
        ``escapechar``, ``doublequote``, ``skipinitialspace``, ``quoting``, ``strict``,
        ``dialect``), ``fieldnames`` for a file without a header, ``encoding`` (default UTF-8).
    :param delimiter: the default delimiter (``\\t`` for TSV) when ``csv_options`` has none.

    :ivar columns: the header's column names.
    """

    def __init__(
        self,
        path: Any,
        *,
        gzipped: bool = False,
        csv_options: Mapping[str, Any] | None = None,
        delimiter: str = ",",
    ) -> None:
        options = dict(csv_options or {})
        unknown = sorted(set(options) - CSV_OPTIONS)
        if unknown:
            raise ValueError(f"csv_options {unknown} are not known; use {', '.join(sorted(CSV_OPTIONS))}")
        fieldnames = options.pop("fieldnames", None)
        encoding = options.pop("encoding", ENCODING)
        if "dialect" not in options:
            options.setdefault("delimiter", delimiter)
        super().__init__(path, gzipped=gzipped, encoding=encoding, newline="")
        try:
            try:
                self._reader = csv.reader(self._file, **options)
            except TypeError as exc:
                raise ValueError(f"csv_options are not valid for csv.reader: {exc}") from None
            if fieldnames is None:
                try:
                    header = next(self._reader, None)
                except (csv.Error, UnicodeDecodeError) as exc:
                    raise self._broken(1, exc) from exc
                if header is None:
                    log.warning("%s is empty: no header, no rows", self.description)
                fieldnames = header or []
            self.columns = _unique_columns(fieldnames, self.description)
        except BaseException:
            self.close()
            raise

    def _rows(self) -> Iterator[SourceRow]:
        header = self.columns
        width = len(header)
        reader = self._reader
        ref = 0
        try:
            for fields in reader:
                if len(fields) == width:
                    ref += 1
                    yield (ref, dict(zip(header, fields)), None)
                elif fields:
                    ref += 1
                    yield (ref, *self._ragged(fields, reader.line_num))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise self._broken(reader.line_num, exc) from exc
        finally:
            self.rows_read = ref
            self.close()

    def _ragged(self, fields: list[str], line: int) -> tuple[dict[str, Any], str]:
        header = self.columns
        data: dict[str, Any] = dict(zip(header, fields))
        problem = f"line {line}: {len(fields)} fields where the header has {len(header)}"
        if len(fields) > len(header):
            data[EXTRA_FIELDS] = fields[len(header) :]
        else:
            missing = header[len(fields) :]
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            problem += f" ({shown} missing)"
        return data, problem


class JsonLinesSource(FileSource):
    """Rows of a JSON Lines file: one JSON object per line; values keep their JSON types.

    A line that is not valid JSON, or is JSON but not an object, is yielded as a row whose data
    holds the line's text under :data:`~airflow_provider_braze.sources.base.RAW_LINE`, with a
    problem naming the line. Blank lines are skipped: they are not rows, but they count in line
    numbers. A file that is one JSON array is refused with a clear error.

    :param path: local path, URL or ``ObjectStoragePath``.
    :param gzipped: decompress while reading.
    """

    def __init__(self, path: Any, *, gzipped: bool = False) -> None:
        super().__init__(path, gzipped=gzipped, encoding=ENCODING, newline=None)

    def _rows(self) -> Iterator[SourceRow]:
        loads = json.loads
        ref = 0
        line_number = 0
        try:
            for line in self._file:
                line_number += 1
                try:
                    value = loads(line)
                except ValueError as exc:
                    if line.isspace() or not line:
                        continue
                    self._refuse_array(ref, line)
                    ref += 1
                    yield (ref, {RAW_LINE: line.rstrip("\r\n")}, f"line {line_number}: not valid JSON ({_why(exc, line)})")
                    continue
                ref += 1
                if type(value) is dict:
                    yield (ref, value, None)
                else:
                    self._refuse_array(ref - 1, line)
                    kind = _JSON_KINDS.get(type(value), type(value).__name__)
                    yield (ref, {RAW_LINE: line.rstrip("\r\n")}, f"line {line_number}: a JSON {kind}, not an object")
        except UnicodeDecodeError as exc:
            raise self._broken(line_number, exc) from exc
        finally:
            self.rows_read = ref
            self.close()

    def _refuse_array(self, rows_before: int, line: str) -> None:
        if rows_before == 0 and line.lstrip().startswith("["):
            raise ValueError(
                f"{self.description} holds a JSON array, not JSON Lines; write one JSON object per line "
                "(newline-delimited JSON), or pass the list as records"
            )


def _why(exc: ValueError, line: str) -> str:
    if not isinstance(exc, json.JSONDecodeError):
        return str(exc)
    if exc.pos >= len(line.rstrip("\r\n")):
        return f"{exc.msg} at the end of the line"
    return f"{exc.msg} at column {exc.pos + 1}"


_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def _unique_columns(fieldnames: Any, description: str) -> tuple[str, ...]:
    columns = tuple(fieldnames)
    seen: set[str] = set()
    twice = [c for c in columns if c in seen or seen.add(c)]
    if twice:
        raise ValueError(
            f"{description} has more than one column named {', '.join(map(repr, dict.fromkeys(twice)))}"
        )
    return columns
