"""Operators that settle or forget an export sync's state in the sync ledger (no call to Braze)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.hooks.state import sync_ledger_store
from airflow_provider_braze.state.unrecorded_spool import UnrecordedSpoolError

if TYPE_CHECKING:
    from airflow.sdk import Context


class BrazeSyncResetOperator(BaseOperator):
    """Forget everything the sync ledger holds for a sync: fingerprints, event keys, runs, problems.

    Its next run sends every row again: attributes are rewritten (harmless, but it spends data points
    on legacy contracts), and events and purchases sent before are stored a second time. To make
    Braze match the warehouse after someone changed it by hand, prefer ``full_resync=True`` on the
    export: it rewrites the attributes and keeps the event keys.

    :param sync_key: the sync to forget (the export's ``sync_key``, by default ``dag_id.task_id``).
    :param state_conn_id: the state store's Airflow connection (default: the embedded SQLite file).
    """

    template_fields: Sequence[str] = ("sync_key",)

    def __init__(self, *, sync_key: str, state_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sync_key = sync_key
        self.state_conn_id = state_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        store = sync_ledger_store(self.state_conn_id)
        state = store.state(self.sync_key)
        if state is None:
            self.log.info("Sync %r is not in the ledger; nothing to forget.", self.sync_key)
            return {"sync_key": self.sync_key, "forgotten": False}
        store.reset(self.sync_key)
        self.log.info(
            "Forgot sync %r: %s users, %s event keys, %s runs.",
            self.sync_key,
            f"{state.users:,}",
            f"{sum(state.keys.values()):,}",
            f"{state.runs:,}",
        )
        return {"sync_key": self.sync_key, "forgotten": True, "users": state.users, "keys": sum(state.keys.values())}


class BrazeSyncSettleOperator(BaseOperator):
    """Decide the rows of a sync whose outcome is unknown (sent, no clear answer from Braze).

    Check in Braze first (a user's events, or Currents), then say what happened:
    ``delivered=True`` counts them as accepted, so no run sends them again; ``delivered=False``
    forgets them, so the next run sends them. Outcomes Braze answered that an export kept in an
    unrecorded spool on this worker (the state store had failed) are recorded first; the task fails,
    settling nothing, when such a spool cannot be read or is still being written.

    :param sync_key: the sync (the export's ``sync_key``, by default ``dag_id.task_id``).
    :param delivered: whether those rows reached Braze.
    :param state_conn_id: the state store's Airflow connection (default: the embedded SQLite file).
    """

    template_fields: Sequence[str] = ("sync_key",)

    def __init__(self, *, sync_key: str, delivered: bool, state_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(delivered, bool):
            raise ValueError(f"delivered must be True or False, not {delivered!r}")
        self.sync_key = sync_key
        self.delivered = delivered
        self.state_conn_id = state_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            settled = sync_ledger_store(self.state_conn_id).settle_unknown(self.sync_key, delivered=self.delivered)
        except UnrecordedSpoolError as exc:
            raise AirflowFailException(
                f"Sync {self.sync_key!r} was not settled: {exc}. It holds outcomes Braze answered that the sync "
                "ledger could not record; settling before they are recorded could send delivered rows again. Let the "
                "export finish, or fix the file and run `braze-sync-ledger replay FILE`, then settle."
            ) from None
        verdict = "counted as delivered" if self.delivered else "forgotten: the next run sends them"
        self.log.info("%s rows of unknown outcome in sync %r %s.", f"{settled:,}", self.sync_key, verdict)
        return {"sync_key": self.sync_key, "settled": settled, "delivered": self.delivered}
