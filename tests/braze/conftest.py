"""Fixtures for the Braze client core: a client whose waits are recorded instead of slept."""

from __future__ import annotations

import pytest

from airflow_provider_braze.braze.rate_limit import RateLimiter
from airflow_provider_braze.braze.retry import RetryPolicy
from airflow_provider_braze.braze.transport import BrazeClient
from tests.conftest import TEST_API_KEY

BASE = "https://rest.iad-03.braze.com"


class SleepRecorder:
    """Stands in for ``time.sleep``: remembers each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def client(sleeps) -> BrazeClient:
    return BrazeClient(
        BASE,
        TEST_API_KEY,
        retry_policy=RetryPolicy(max_attempts=5, backoff_base=0.5, backoff_max=4.0, reset_jitter=0.0),
        # The retry policy is under test here; the rate limiter has its own tests.
        rate_limiter=RateLimiter(enabled=False),
        sleep=sleeps,
    )
