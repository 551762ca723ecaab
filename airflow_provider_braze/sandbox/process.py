"""A started sandbox run as a console process: announced on stdout, served until SIGINT or SIGTERM, then stopped."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Protocol


class Served(Protocol):
    """What a started sandbox offers here: its base URL and a way to stop it."""

    @property
    def url(self) -> str:
        """The base URL it answers on."""
        ...

    def stop(self) -> None:
        """Stop serving and release the port."""
        ...


def serve_until_signalled(sandbox: Served, program: str, then: Callable[[], int | None] | None = None) -> int:
    """Print ``<program> listening on <url>``, run ``then``, serve until SIGINT or SIGTERM; stop the sandbox at the end.

    The line is what scripts and tests wait for, so it is flushed at once.

    :param sandbox: a started sandbox.
    :param program: the console script's name, the line's first word.
    :param then: what to do once listening; an exit code it returns ends the process at once, ``None``
        serves on.
    :returns: the process's exit code.
    """
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(f"{program} listening on {sandbox.url}", flush=True)
    try:
        code = then() if then is not None else None
        if code is not None:
            return code
        # Short waits: the main thread must come back to Python for the signal handler to run.
        while not stopping.wait(0.5):
            pass
    finally:
        sandbox.stop()
    return 0
