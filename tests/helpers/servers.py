"""Waiting for a server started as a child process (the receiver CLI, the Airflow API server) to answer."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest
import requests


def wait_until_answering(
    url: str,
    status: int,
    process: subprocess.Popen,
    *,
    what: str,
    timeout: float,
    interval: float = 0.1,
    output: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``url`` until it answers ``status``; fail the test if ``process`` exits or ``timeout`` seconds pass.

    :param what: the server's name in the failure message.
    :param output: what the server printed, shown with a failure.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=min(2.0, timeout)).status_code == status:
                return
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            state = "exited" if process.poll() is not None else f"did not answer {status} within {timeout:.0f} s"
            pytest.fail(f"{what} {state}:\n{output()[-3000:]}")
        time.sleep(interval)
