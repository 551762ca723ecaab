"""The local services the demo runs against, each in its own process on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

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


def start(
    name: str,
    module: str,
    *args: str,
    env: dict[str, str] | None = None,
    health: str = "/_sandbox/state",
    timeout: float = 30.0,
    log_dir: Path = Path(".demo"),
) -> Service:
    """Run ``python -m module --port 0 ...``, wait for its ``listening on http://...`` line and health URL.

    The service's output goes to ``log_dir/<name>.log``: a pipe nobody reads would fill up and stall
    the service once it logs enough (uvicorn logs every request).

    :param health: a path under the printed URL's origin that answers once the service is up.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--port", "0", *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for line in log_path.read_text().splitlines():
            if "listening on http://" in line:
                url = line[line.index("http://") :].split()[0].rstrip("/")
                _wait_until_up(_origin(url) + health, deadline)
                return Service(name, process, url)
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{name} did not start (exit code {process.poll()}); see {log_path}")


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _wait_until_up(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
