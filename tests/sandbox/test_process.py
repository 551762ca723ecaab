"""A sandbox run as a console process announces itself, runs what comes first, and is always stopped."""

from __future__ import annotations

import signal

import pytest

from airflow_provider_braze.sandbox.process import serve_until_signalled


@pytest.fixture(autouse=True)
def _keep_signal_handlers():
    """The function installs SIGINT and SIGTERM handlers; pytest's own come back afterwards."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


class _Sandbox:
    url = "http://127.0.0.1:8099"

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


def test_the_listening_line_names_the_program_and_the_url(capsys):
    serve_until_signalled(_Sandbox(), "braze-sandbox", lambda: 0)
    assert capsys.readouterr().out == "braze-sandbox listening on http://127.0.0.1:8099\n"


def test_an_exit_code_from_then_ends_the_process_and_stops_the_sandbox():
    sandbox = _Sandbox()
    assert serve_until_signalled(sandbox, "ketch-sandbox", lambda: 1) == 1
    assert sandbox.stopped


def test_the_sandbox_is_stopped_when_then_fails():
    sandbox = _Sandbox()

    def fail() -> int | None:
        raise RuntimeError("receiver gone")

    with pytest.raises(RuntimeError):
        serve_until_signalled(sandbox, "ketch-sandbox", fail)
    assert sandbox.stopped
