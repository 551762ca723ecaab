"""Cancelling a send: one token that every wait of the send path watches.

Airflow 3 stops a running task with SIGTERM (``airflow tasks`` kill, a run marked failed or
cancelled, a worker shutting down): the task runner's handler calls the operator's ``on_kill()`` in
the main thread and returns, and the supervisor sends SIGKILL 5 s later if the process is still
alive (``airflow.sdk.execution_time.task_runner._run_task_and_map_outcome`` and
``supervisor.kill(escalation_delay=5.0)``). The handler raises nothing: ``on_kill()`` must make the
export end by itself. It cancels a :class:`CancelToken`; every wait of the send path (a slot in the
in-flight window, the rate limiter, a retry's backoff) sleeps on that token instead of
``time.sleep``, so it wakes at once, and no new request leaves once it is cancelled.

The token is called from a signal handler, which runs in the main thread between two bytecodes,
perhaps while that same thread holds the token's lock (waiting on it in ``hook.call``). So the lock
is re-entrant (a plain ``threading.Event`` could deadlock there), and waits are cut into slices of
:data:`_SLICE` seconds so that a wake-up lost in that one interleaving costs at most a slice.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable

from airflow_provider_braze.braze.errors import BrazeCancelledError

#: The longest a wait sleeps before it looks at the token again (see the module's docstring).
_SLICE = 1.0


class CancelToken:
    """Says whether a send was cancelled, and wakes whoever waits on it when it is.

    Cheap to ask: :attr:`cancelled` reads one attribute, so the send path may check it per request.

    :param parent: a token whose cancellation cancels this one too (a send's own token is a child
        of its client's, so the send can be stopped alone while a cancelled client stops them all).
    """

    def __init__(self, parent: CancelToken | None = None) -> None:
        self._reason: str | None = None
        self._at: float | None = None
        self._cond = threading.Condition(threading.RLock())
        self._children: weakref.WeakSet[CancelToken] = weakref.WeakSet()
        if parent is not None:
            parent._children.add(self)
            if parent._reason is not None:
                self._at, self._reason = parent._at, parent._reason

    @property
    def cancelled(self) -> bool:
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        """Why it was cancelled (the first reason given), or ``None``."""
        return self._reason

    @property
    def cancelled_at(self) -> float | None:
        """``time.monotonic()`` when it was cancelled, or ``None``."""
        return self._at

    def child(self) -> CancelToken:
        """A token cancelled with this one, that can also be cancelled alone."""
        return CancelToken(self)

    def cancel(self, reason: str = "cancelled") -> None:
        """Cancel: every waiter wakes, and every later check raises :class:`BrazeCancelledError`.

        Safe to call from a signal handler and from any thread; the first reason stands.

        :param reason: what cancelled it, for the error and the failed rows' reason, e.g.
            ``export cancelled (SIGTERM)``.
        """
        if self._reason is None:
            self._at = time.monotonic()  # before the reason: whoever sees it cancelled sees when
            self._reason = reason
        with self._cond:
            self._cond.notify_all()
        for child in list(self._children):
            child.cancel(reason)

    def error(self) -> BrazeCancelledError:
        """The error a cancelled wait raises."""
        return BrazeCancelledError(f"{self._reason or 'cancelled'}: stopped before Braze answered")

    def raise_if_cancelled(self) -> None:
        """:raises BrazeCancelledError: the token was cancelled."""
        if self._reason is not None:
            raise self.error()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return ``True`` as soon as the token is cancelled, else ``False``."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while not self.cancelled:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, _SLICE))
        return self.cancelled

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, unless cancelled first.

        :raises BrazeCancelledError: the token was cancelled before or during the sleep.
        """
        if self.wait(seconds):
            raise self.error()

    def sleeper(self, sleep: Callable[[float], None] | None = None) -> Callable[[float], None]:
        """A sleep function for a retry loop that honours the token.

        :param sleep: a stand-in for the sleep itself (tests record waits instead of sleeping); the
            token is still checked before and after it.
        """
        if sleep is None:
            return self.sleep

        def checked(seconds: float) -> None:
            self.raise_if_cancelled()
            sleep(seconds)
            self.raise_if_cancelled()

        return checked

    def __reduce__(self) -> tuple[type[CancelToken], tuple[()]]:
        # A copy (an operator deep-copied by Airflow, say) starts afresh: locks cannot be copied,
        # and a copy's sends are not the original's.
        return (CancelToken, ())

    def __repr__(self) -> str:
        return f"CancelToken(cancelled={self._reason!r})" if self._reason else "CancelToken()"
