"""Group commit: many threads want their record durable; one of them writes everybody's at once.

Each sender thread must not go on before its batch's outcome (or its intent) is committed, yet one
transaction per batch from eight threads makes them queue on the database's single write lock (on
SQLite each waiter sleeps in the busy handler, and throughput collapses). Here the first thread to
arrive while nobody writes becomes the leader: it takes every record queued so far, writes them in one
transaction, and wakes the others; records that arrive meanwhile form the next group. Under load a
transaction carries many batches; with one thread it is a transaction per batch, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class _Job(Generic[T]):
    __slots__ = ("done", "error", "payload")

    def __init__(self, payload: T) -> None:
        self.payload = payload
        self.done = False
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    """Write payloads from many threads in as few calls of ``write`` as the writes' speed allows.

    :param write: writes a group of payloads durably (one transaction); raising fails every
        payload of the group.
    """

    def __init__(self, write: Callable[[Sequence[T]], None]) -> None:
        self._write = write
        self._ready = threading.Condition()
        self._queue: list[_Job[T]] = []
        self._writing = False

    def __call__(self, payload: T) -> None:
        """Return once ``payload`` is written (by this thread or another); raise if its group failed."""
        job = _Job(payload)
        with self._ready:
            self._queue.append(job)
            while not job.done and self._writing:
                self._ready.wait()
            if job.done:
                return self._outcome(job)
            group, self._queue = self._queue, []
            self._writing = True
        error: BaseException | None = None
        try:
            self._write([j.payload for j in group])
        except BaseException as exc:  # noqa: BLE001 - handed to every thread of the group
            error = exc
        with self._ready:
            for j in group:
                j.done, j.error = True, error
            self._writing = False
            self._ready.notify_all()
        return self._outcome(job)

    @staticmethod
    def _outcome(job: _Job[T]) -> None:
        if job.error is not None:
            raise job.error
