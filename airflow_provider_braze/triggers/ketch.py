"""The trigger that waits for Ketch preference changes in the state store: a deferral trigger and an asset watcher."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_braze.hooks.ketch import KetchHook
from airflow_provider_braze.state import EventRange


def range_payload(rng: EventRange) -> dict[str, Any]:
    """The range as the sensor pushes it to XCom and the sync operator reads it (``event_range``)."""
    return {"first_id": rng.first_id, "last_id": rng.last_id, "count": rng.count}


class KetchPreferenceChangeTrigger(BaseEventTrigger):
    """Wait until at least ``min_changes`` subscription or control changes received from Ketch are unsynced.

    It polls the state store the webhook receiver writes to, through the Ketch connection. Events are
    JSON dicts:

    - ``{"status": "changes", "first_id", "last_id", "count"}``: the unsynced events after ``after_id``,
      the ``event_range`` that ``BrazeSubscriptionSyncOperator`` syncs;
    - ``{"status": "timeout", "first_id", "last_id", "count", "message"}``: ``end_time`` passed first
      (the range holds what was pending then, possibly fewer than ``min_changes``);
    - ``{"status": "error", "message"}``: the store or the connection failed (no secrets in the text).

    The database is only touched in worker threads (``asyncio.to_thread``) and the connection is read
    with ``get_async_connection``, so the triggerer's event loop never blocks.

    **Deferral** (what :class:`~airflow_provider_braze.sensors.ketch.KetchPreferenceChangeSensor` does):
    the trigger yields one event and ends. ``end_time`` is wall-clock (``time.time()``) so that it
    holds across defer and resume.

    **Asset watcher**: leave ``end_time`` unset. Without a deadline and without a task waiting on it,
    the trigger keeps watching: after each ``changes`` event it moves its watermark to ``last_id`` and
    fires again only for changes received later. Errors are logged and retried instead of becoming
    asset events. After a triggerer restart it starts again from ``after_id``, so changes still
    unsynced are announced once more (at least once)::

        from airflow.sdk import Asset, AssetWatcher, dag

        ketch_preferences = Asset(
            "ketch://axonic/preferences",
            watchers=[
                AssetWatcher(
                    name="ketch_preference_changes",
                    trigger=KetchPreferenceChangeTrigger(ketch_conn_id="ketch_default", poll_interval=30),
                )
            ],
        )

        @dag(schedule=[ketch_preferences])
        def sync_ketch_preferences(): ...

    A DAG scheduled on the asset finds the range in the triggering asset event's
    ``extra["payload"]``.

    :param ketch_conn_id: the Ketch connection (its state store settings).
    :param after_id: only count events with a greater id (a watermark), ``None`` for all.
    :param min_changes: fire once at least this many unsynced events exist.
    :param poll_interval: seconds between two looks at the store.
    :param end_time: deadline, unix seconds (``time.time()`` based), or ``None`` for none.
    """

    def __init__(
        self,
        ketch_conn_id: str = KetchHook.default_conn_name,
        after_id: int | None = None,
        min_changes: int = 1,
        poll_interval: float = 60.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__()
        if int(min_changes) < 1:
            raise ValueError("min_changes must be at least 1")
        if float(poll_interval) <= 0:
            raise ValueError("poll_interval must be positive")
        self.ketch_conn_id = ketch_conn_id
        self.after_id = None if after_id is None else int(after_id)
        self.min_changes = int(min_changes)
        self.poll_interval = float(poll_interval)
        self.end_time = None if end_time is None else float(end_time)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "ketch_conn_id": self.ketch_conn_id,
                "after_id": self.after_id,
                "min_changes": self.min_changes,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )

    @property
    def watching(self) -> bool:
        """Whether this runs as an asset watcher: no deadline and no deferred task waiting on it."""
        return self.end_time is None and self.task_instance is None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = KetchHook(ketch_conn_id=self.ketch_conn_id)
        after_id = self.after_id
        try:
            while True:
                try:
                    store = await hook.aget_event_store()
                    rng = await asyncio.to_thread(store.unsynced_range, after_id)
                except Exception as exc:  # a trigger reports failures as events instead of dying
                    message = f"Reading Ketch changes failed: {type(exc).__name__}: {hook.redact(str(exc))}"
                    if not self.watching:
                        self.log.error("%s", message)
                        yield TriggerEvent({"status": "error", "message": message})
                        return
                    self.log.warning("%s; retrying in %g s", message, self.poll_interval)
                    await asyncio.sleep(self.poll_interval)
                    continue
                if rng.count >= self.min_changes:
                    self.log.info(
                        "%d unsynced Ketch preference changes (events %s to %s)", rng.count, rng.first_id, rng.last_id
                    )
                    yield TriggerEvent({"status": "changes", **range_payload(rng)})
                    if not self.watching:
                        return
                    after_id = rng.last_id
                    continue
                now = time.time()
                if self.end_time is not None and now >= self.end_time:
                    message = (
                        f"Timed out waiting for {self.min_changes} Ketch preference change(s); "
                        f"{rng.count} unsynced after event {after_id}."
                    )
                    self.log.warning("%s", message)
                    yield TriggerEvent({"status": "timeout", **range_payload(rng), "message": message})
                    return
                wait = self.poll_interval if self.end_time is None else min(self.poll_interval, self.end_time - now)
                self.log.info(
                    "%d of %d Ketch preference change(s) unsynced; next look in %g s", rng.count, self.min_changes, wait
                )
                await asyncio.sleep(wait)
        finally:
            await asyncio.to_thread(hook.close)
