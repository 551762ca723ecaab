"""The rejected-records file: JSON Lines, created on the first row at fault, local or object storage."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)


class LazyRejectedFile:
    """A text file opened only when the first line is written, so clean runs leave no empty files.

    :param path: a local path or an Airflow object-storage URL (``s3://bucket/key.jsonl``);
        ``None`` discards what is written.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.written = 0
        self._file: IO[str] | None = None

    def write(self, text: str) -> int:
        if self.path is None:
            return 0
        if self._file is None:
            self._file = _open_for_writing(self.path)
        self.written += 1
        return self._file.write(text)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            log.info("Wrote %s rejected rows to %s", f"{self.written:,}", self.path)

    def __enter__(self) -> LazyRejectedFile:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _open_for_writing(path: str) -> IO[str]:
    if "://" in path:
        from airflow.sdk import ObjectStoragePath

        target = ObjectStoragePath(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.open("w", encoding="utf-8")
    local = Path(path)
    local.parent.mkdir(parents=True, exist_ok=True)
    return local.open("w", encoding="utf-8")
