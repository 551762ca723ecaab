"""The local services the demo runs against, each in its own process on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

import requests


@dataclass
class Service:
    """A running service process and the URL it printed."""

    name: str
    process: subprocess.Popen
    url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start(name: str, module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> Service:
    """Run ``python -m module --port 0 ...`` and wait for its ``listening on http://...`` line."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if "http://" in line:
            url = line[line.index("http://") :].split()[0].rstrip("/")
            _wait_until_up(url, deadline)
            return Service(name, process, url)
    process.kill()
    raise RuntimeError(f"{name} did not start (exit code {process.poll()}).")


def _wait_until_up(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/_sandbox/state", timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
