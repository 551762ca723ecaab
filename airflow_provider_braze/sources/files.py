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

from airflow_provider_braze.sources.csv_file import CSV_OPTIONS, CsvSource
from airflow_provider_braze.sources.jsonl_file import JsonLinesSource
from airflow_provider_braze.sources.text_file import ENCODING, FileSource, describe_path, escaped_byte, open_text

__all__ = [
    "CSV_OPTIONS",
    "ENCODING",
    "FILE_FORMATS",
    "CsvSource",
    "FileSource",
    "JsonLinesSource",
    "describe_path",
    "escaped_byte",
    "file_format_of",
    "open_text",
]

#: ``file_format`` values and the reader each selects.
FILE_FORMATS = {"csv": "csv", "tsv": "tsv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}


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
