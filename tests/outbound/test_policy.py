"""The outbound HTTP policy shared by the Braze client and the Ketch clients."""

from __future__ import annotations

import logging

import pytest
import requests

from airflow_provider_braze.outbound.policy import HttpPolicy, HttpStatusError, retry_after_seconds

NO_JITTER = HttpPolicy(max_attempts=3, backoff_base=0.5, backoff_max=30.0, reset_jitter=0.0)


def test_a_wait_the_server_asked_for_is_honoured():
    error = HttpStatusError("busy", status_code=429, retry_after=2.0)
    assert NO_JITTER.wait_seconds(error, attempt=1) == 2.0


def test_without_retry_after_the_backoff_doubles_up_to_its_ceiling():
    waits = [NO_JITTER.wait_seconds(HttpStatusError("down", status_code=503), attempt=n) for n in range(1, 12)]
    assert all(0 <= w <= min(30.0, 0.5 * 2 ** (n - 1)) for n, w in zip(range(1, 12), waits, strict=True))


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (HttpStatusError("slow down", status_code=429), True),
        (HttpStatusError("down", status_code=503), True),
        (HttpStatusError("bad", status_code=400), False),
        (requests.ConnectionError("refused"), True),
        (requests.Timeout("read"), True),
        (ValueError("a bug"), False),
    ],
)
def test_retryable_statuses_and_lost_connections_are_retried(error, retried):
    assert NO_JITTER.should_retry(error) is retried


@pytest.mark.parametrize(
    ("header", "seconds"), [("3", 3.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 5.0), ("soon", None), (None, None)]
)
def test_retry_after_is_read_as_seconds_or_a_date(header, seconds):
    headers = {} if header is None else {"Retry-After": header}
    assert retry_after_seconds(headers, now=lambda: 1445412475.0) == seconds


def test_retries_stop_after_max_attempts_and_raise_the_last_error():
    calls = []

    def attempt():
        calls.append(1)
        raise HttpStatusError("down", status_code=503)

    with pytest.raises(HttpStatusError, match="down"):
        NO_JITTER.retrying(sleep=lambda s: None)(attempt)
    assert len(calls) == 3


def test_the_retry_log_line_never_shows_a_secret(caplog):
    answers = iter([HttpStatusError("token s3cr3t refused", status_code=503), None])

    def attempt():
        error = next(answers)
        if error is not None:
            raise error
        return "ok"

    with caplog.at_level(logging.WARNING):
        assert NO_JITTER.retrying(sleep=lambda s: None, secrets=["s3cr3t"])(attempt) == "ok"
    assert "token *** refused" in caplog.text and "s3cr3t" not in caplog.text
