"""Wait for Ketch preference changes not yet synced to Braze: ``KetchPreferenceChangeSensor``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, AirflowSkipException

from airflow_provider_braze.hooks.ketch import KetchHook
from airflow_provider_braze.triggers.ketch import KetchPreferenceChangeTrigger, range_payload

if TYPE_CHECKING:
    from airflow.sdk import Context


class KetchPreferenceChangeSensor(BaseSensorOperator):
    """Wait until Ketch subscription or control changes received by the webhook receiver await a sync.

    It reads the state store of the Ketch connection. When at least ``min_changes`` unsynced events
    exist after ``after_id``, the task succeeds and its return value (XCom) is exactly
    ``{"first_id": ..., "last_id": ..., "count": ...}``: ids and a count, never the changes, and
    the ``event_range`` that ``BrazeSubscriptionSyncOperator`` takes. Modes ``poke`` and
    ``reschedule`` work as for any sensor; with ``deferrable=True`` it looks once and then waits in
    the triggerer with :class:`~airflow_provider_braze.triggers.ketch.KetchPreferenceChangeTrigger`,
    which enforces the sensor's ``timeout`` as a wall-clock deadline.

    :param ketch_conn_id: the Ketch connection id (templated).
    :param min_changes: how many unsynced events are enough (templated).
    :param after_id: only count events with a greater id, e.g. the last synced range's ``last_id``
        (templated).
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = ("ketch_conn_id", "min_changes", "after_id")
    ui_color = "#e3f0f7"

    def __init__(
        self,
        *,
        ketch_conn_id: str = KetchHook.default_conn_name,
        min_changes: int | str = 1,
        after_id: int | str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ketch_conn_id = ketch_conn_id
        self.min_changes = min_changes
        self.after_id = after_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> KetchHook:
        return KetchHook(ketch_conn_id=self.ketch_conn_id)

    def _min_changes(self) -> int:
        value = int(self.min_changes)
        if value < 1:
            raise ValueError(f"min_changes must be at least 1, got {self.min_changes!r}")
        return value

    def _after_id(self) -> int | None:
        # A template that rendered nothing (no previous sync) means "from the start".
        return None if self.after_id in (None, "", "None") else int(self.after_id)

    def poke(self, context: Context) -> PokeReturnValue:
        wanted = self._min_changes()
        rng = self.hook.get_event_store().unsynced_range(self._after_id())
        self.log.info(
            "%d unsynced Ketch preference change(s) (events %s to %s); waiting for %d",
            rng.count,
            rng.first_id,
            rng.last_id,
            wanted,
        )
        return PokeReturnValue(is_done=rng.count >= wanted, xcom_value=range_payload(rng))

    def execute(self, context: Context) -> Any:  # noqa: RET503 - it ends in defer(), which raises TaskDeferred
        if not self.deferrable:
            return super().execute(context)
        result = self.poke(context)
        if result.is_done:
            return result.xcom_value
        self.defer(
            trigger=KetchPreferenceChangeTrigger(
                ketch_conn_id=self.ketch_conn_id,
                after_id=self._after_id(),
                min_changes=self._min_changes(),
                poll_interval=self.poke_interval or 1.0,
                end_time=time.time() + self.timeout,
            ),
            method_name="execute_complete",
            # The trigger enforces the sensor's timeout itself, so execute_complete always runs.
            timeout=None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Return the range the trigger found; raise (or skip, with ``soft_fail``) on timeout or error."""
        body = event if isinstance(event, dict) else {}
        status = body.get("status")
        if status == "changes":
            payload = {key: body[key] for key in ("first_id", "last_id", "count")}
            self.log.info(
                "%d unsynced Ketch preference change(s) (events %s to %s)",
                payload["count"],
                payload["first_id"],
                payload["last_id"],
            )
            return payload
        if status == "timeout":
            message = body.get("message") or "Timed out waiting for Ketch preference changes."
            error: AirflowException = AirflowSensorTimeout(message)
        elif status == "error":
            error = AirflowException(body.get("message") or "The Ketch change trigger failed.")
        else:
            error = AirflowException(f"Unexpected event from the Ketch change trigger: {event!r}")
        if self.soft_fail:
            raise AirflowSkipException(f"Skipping due to soft_fail: {error}") from error
        raise error
