"""A plain HTTP client of the Braze sandbox, and waiting for a fresh rate-limit window."""

from __future__ import annotations

import math
import time

import requests

from tests.helpers.secrets import SANDBOX_ALL_KEY


class BrazeClient:
    """``requests`` against the sandbox with a bearer key, one keep-alive session."""

    def __init__(self, url: str, key: str | None = SANDBOX_ALL_KEY) -> None:
        self.url = url
        self.session = requests.Session()
        if key is not None:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def post(self, path: str, body=None, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.post(self.url + path, json=body, **kwargs)

    def get(self, path: str, params=None, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.get(self.url + path, params=params, **kwargs)

    def track(self, **arrays) -> requests.Response:
        return self.post("/users/track", arrays)


def wait_for_fresh_window(period: float, margin: float = 0.5) -> None:
    """Sleep past the end of a fixed rate-limit window when too little of it is left for a test."""
    left = math.floor(time.time() / period) * period + period - time.time()
    if left < margin:
        time.sleep(left + 0.01)
