"""A file opened for streaming text reads, and the base of the file sources that read it.

A path with a scheme (``s3://``, ``gs://``, ``file://`` ...) is opened through Airflow's
``ObjectStoragePath``; a plain path is opened directly; ``.gz`` is decompressed as it is read. Bytes
that are not text in the file's encoding are kept as lone surrogates, so the reader can refuse the
one row holding them (naming line and byte) and read on.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from typing import IO, Any

from airflow_provider_braze.sources.base import BaseSource, close_quietly

#: The default text encoding: UTF-8, with or without a byte-order mark.
ENCODING = "utf-8-sig"
#: A byte that is not text in the file's encoding is read as U+DC80..U+DCFF (``surrogateescape``),
#: so that the row holding it is refused, naming line and byte, and the rest of the file is read on.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
#: What a corrupt or truncated gzip stream raises.
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def escaped_byte(text: str) -> str | None:
    """The first byte of ``text`` that was not text in its file's encoding (``"0xE9"``), else ``None``."""
    if text.isascii():  # a flag read for most strings
        return None
    found = _ESCAPED_BYTE.search(text)
    return None if found is None else f"0x{ord(found.group()) - 0xDC00:02X}"


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
        if isinstance(exc, GZIP_ERRORS):
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
