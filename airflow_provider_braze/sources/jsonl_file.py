"""Rows of a JSON Lines file: one JSON object per line.

A line that is not a JSON object is still a row, yielded with a problem naming the line; a file
that is one JSON array is refused with a clear error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from airflow_provider_braze.sources.base import RAW_LINE, SourceRow
from airflow_provider_braze.sources.text_file import GZIP_ERRORS, FileSource, escaped_byte


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
        except GZIP_ERRORS as exc:
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
