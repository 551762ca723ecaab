"""Fixtures for the Braze client core: a client whose waits are recorded instead of slept."""

from __future__ import annotations

import pytest

from airflow_provider_braze.braze.rate_limit import RateLimiter
from airflow_provider_braze.braze.retry import RetryPolicy
from airflow_provider_braze.braze.transport import BrazeClient
from tests.helpers.braze import BASE, SleepRecorder
from tests.helpers.secrets import TEST_API_KEY


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
