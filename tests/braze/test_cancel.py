"""CancelToken: waits that end the moment a send is cancelled, from any thread or a signal handler."""

from __future__ import annotations

import copy
import os
import signal
import threading
import time

import pytest

from airflow_provider_braze.braze.cancel import CancelToken
from airflow_provider_braze.braze.errors import BrazeCancelledError


def cancel_later(token: CancelToken, seconds: float, reason: str = "export cancelled (SIGTERM)") -> None:
    threading.Timer(seconds, token.cancel, args=(reason,)).start()


def test_a_wait_ends_at_once_when_another_thread_cancels():
    token = CancelToken()
    cancel_later(token, 0.1)
    started = time.monotonic()
    assert token.wait(30) is True
    assert time.monotonic() - started < 0.5


def test_a_wait_that_is_not_cancelled_lasts_its_time_and_says_so():
    started = time.monotonic()
    assert CancelToken().wait(0.05) is False
    assert time.monotonic() - started >= 0.05


def test_sleep_raises_the_cancellation_with_its_reason():
    token = CancelToken()
    cancel_later(token, 0.05)
    with pytest.raises(BrazeCancelledError, match=r"^export cancelled \(SIGTERM\): stopped before Braze answered$"):
        token.sleep(30)


def test_a_cancel_from_a_signal_handler_wakes_the_main_thread_waiting_on_the_token():
    # Airflow calls on_kill from its SIGTERM handler, in the main thread, maybe while that thread
    # waits on this very token (hook.call retrying): it must neither deadlock nor sleep on.
    token = CancelToken()
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: token.cancel("export cancelled (SIGTERM)"))
    try:
        threading.Timer(0.1, os.kill, args=(os.getpid(), signal.SIGUSR1)).start()
        started = time.monotonic()
        assert token.wait(30) is True
        assert time.monotonic() - started < 1.5  # at most one slice of the wait
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_a_child_is_cancelled_with_its_parent_and_alone_without_it():
    parent = CancelToken()
    first, second = parent.child(), parent.child()
    first.cancel("send stopped (GeneratorExit)")
    assert first.cancelled and not second.cancelled and not parent.cancelled
    cancel_later(parent, 0.05, "export cancelled (SIGTERM)")
    assert second.wait(30) and second.reason == "export cancelled (SIGTERM)"
    assert first.reason == "send stopped (GeneratorExit)"  # the first reason stands
    assert parent.child().cancelled  # a send started after the cancel is cancelled from the start


def test_a_sleeper_checks_the_token_around_a_stand_in_sleep():
    token, slept = CancelToken(), []
    sleep = token.sleeper(slept.append)
    sleep(2.0)
    token.cancel()
    with pytest.raises(BrazeCancelledError):
        sleep(3.0)
    assert slept == [2.0]


def test_a_copy_starts_afresh():
    token = CancelToken()
    token.cancel()
    assert not copy.deepcopy(token).cancelled
