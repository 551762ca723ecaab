"""Helpers shared by the Ketch sandbox tests: a failing receiver wrapper, counting and collapsing stored events."""

from __future__ import annotations

from sqlalchemy import func, select

from airflow_provider_braze.state import KetchEventStore
from airflow_provider_braze.state.schema import ketch_events


class FailFirst:
    """ASGI wrapper answering ``status`` to the first ``failures`` requests, then passing them to ``app``."""

    def __init__(self, app, failures: int, status: int = 503) -> None:
        self.app = app
        self.failures = failures
        self.status = status
        self.calls = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            self.calls += 1
            if self.calls <= self.failures:
                headers = [(b"content-length", b"0")]
                await send({"type": "http.response.start", "status": self.status, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


def stored_count(store: KetchEventStore) -> int:
    """How many events the receiver stored."""
    store.ensure_schema()
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ketch_events)).scalar_one()


def collapsed(store: KetchEventStore) -> dict[tuple[str, str, str], str]:
    """The stored subscription changes collapsed as the sync does: latest ``submitted_at`` wins, then event id."""
    latest: dict[tuple[str, str, str], tuple[float, int, str]] = {}
    for event in store.pending_changes():
        for change in event.subscription_changes:
            for identity in event.identities:
                key = (identity.identity_value, change.topic, change.channel)
                candidate = (event.submitted_at, event.event_id, change.status)
                if key not in latest or candidate[:2] > latest[key][:2]:
                    latest[key] = candidate
    return {key: status for key, (_, _, status) in sorted(latest.items())}
