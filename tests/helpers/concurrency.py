"""Running one function on several threads at once, as partitions and sender threads do."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_at_once(target: Callable[[int], Any], count: int) -> list[Any]:
    """Call ``target(0)`` ... ``target(count - 1)`` on ``count`` threads started together; return their
    results in order, or raise the first exception one of them raised."""
    results: list[Any] = [None] * count
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = target(index)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
