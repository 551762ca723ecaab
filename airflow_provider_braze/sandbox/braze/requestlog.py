"""A bounded log of the Braze requests the sandbox answered (inspection traffic is not logged)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import overload


def mask_key(key: str | None) -> str | None:
    """At most the first four characters of an API key, then an ellipsis; never the key itself."""
    if not key:
        return None
    return key[: min(4, len(key) // 2)] + "…"


@dataclass(frozen=True)
class RequestRecord:
    """One answered request.

    :param received_at: epoch seconds when it arrived.
    :param method: HTTP method.
    :param path: request path.
    :param endpoint: catalogue name, ``None`` for unknown paths.
    :param status: status returned, ``None`` when the connection was dropped.
    :param objects: objects in the body's arrays (``attributes`` + ``events`` + ...).
    :param key: the API key, masked.
    :param faults: injected faults, if any.
    """

    received_at: float
    method: str
    path: str
    endpoint: str | None
    status: int | None
    objects: int = 0
    key: str | None = None
    faults: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["faults"] = list(self.faults)
        return data


class RequestLog:
    """The last ``maxlen`` records, oldest first."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=maxlen)

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.records())

    @overload
    def __getitem__(self, index: int) -> RequestRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[RequestRecord]: ...

    def __getitem__(self, index: int | slice) -> RequestRecord | list[RequestRecord]:
        return self.records()[index]

    def records(self, endpoint: str | None = None, status: int | None = None) -> list[RequestRecord]:
        """A copy of the records, optionally for one endpoint or status."""
        with self._lock:
            return [
                r
                for r in self._records
                if (endpoint is None or r.endpoint == endpoint.lstrip("/")) and (status is None or r.status == status)
            ]


class StatusCounts:
    """How many answers of each HTTP status the sandbox gave (``"dropped"`` for connections closed
    unanswered); kept in fast mode too, where there is no request log, so a benchmark can count 429s."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, status: int | None) -> None:
        name = "dropped" if status is None else str(status)
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + 1

    def to_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
