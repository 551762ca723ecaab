"""Backfills and overlapping runs of one sync: no event twice, no older date over a newer one.

Several runs of one sync start at once, each in its own process, as a backfill of several logical
dates or ``max_active_runs > 1`` starts them, against the sandbox answering slowly enough that they
overlap; on the embedded SQLite store and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from airflow_provider_braze.state.engine import create_state_engine
from airflow_provider_braze.state.schema import metadata
from tests.helpers.secrets import POSTGRES_ENV

ROOT = Path(__file__).resolve().parents[2]
WAITED = "is being written by another run"


@pytest.fixture(params=["sqlite", "postgresql"])
def state_conn_id(request, monkeypatch):
    """The state store the runs share: the embedded SQLite file (``None``), or PostgreSQL."""
    if request.param == "sqlite":
        yield None
        return
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL runs need {POSTGRES_ENV}")
    engine = create_state_engine(url)
    metadata.drop_all(engine)
    monkeypatch.setenv("AIRFLOW_CONN_BRAZE_STATE", url)
    yield "braze_state"
    metadata.drop_all(engine)
    engine.dispose()


def start(run_id: str, logical_date: str, operator: dict) -> subprocess.Popen:
    spec = {"run_id": run_id, "dag_id": "backfilled", "logical_date": logical_date, "operator": operator}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.export_child", json.dumps(spec)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_at_once(specs: list[tuple[str, str, dict]]) -> tuple[list[dict], str]:
    """Start every run together; their summaries, and their logs joined."""
    processes = [start(*spec) for spec in specs]
    summaries, logs = [], []
    for process in processes:
        out, err = process.communicate(timeout=600)
        logs.append(out + err)  # Airflow's logging writes the task log to stdout
        assert process.returncode == 0, err[-4000:]
        summaries.append(json.loads(out.strip().splitlines()[-1]))
    return summaries, "\n".join(logs)


def test_four_event_runs_of_overlapping_windows_at_once_store_each_key_once(
    sandbox, braze_conn, warehouse, state_conn_id
):
    sandbox.latency = 0.15  # each run lasts long enough for the others to start meanwhile
    warehouse.execute("create table events (event_id integer, external_id text, name text, time text, day integer)")
    warehouse.executemany(
        "insert into events values (?, ?, 'viewed', ?, ?)",
        [(n, f"u{n % 400}", f"2024-01-{n // 300 + 1:02d}T10:00:00Z", n // 300 + 1) for n in range(3_000)],
    )
    warehouse.commit()

    def run(day: int) -> tuple[str, str, dict]:
        # A seven-day lookback: each date's window overlaps the others'.
        sql = f"select * from events where day between {day - 6} and {day} order by event_id"
        operator = {
            "record_type": "events",
            "sql": sql,
            "sql_conn_id": "warehouse",
            "event_key_column": "event_id",
            "concurrency": 2,
            "state_conn_id": state_conn_id,
        }
        return f"backfill__2024-01-{day:02d}", f"2024-01-{day:02d}T00:00:00+00:00", operator

    summaries, logs = run_at_once([run(day) for day in (7, 8, 9, 10)])

    stored = Counter(e["properties"]["event_id"] for e in sandbox.store.events())
    assert len(stored) == 3_000 and max(stored.values()) == 1, "an event was stored twice"
    assert sum(s["accepted"] for s in summaries) == 3_000
    assert sum(s["already_sent"] for s in summaries) == 4 * 2_100 - 3_000  # each window holds 2,100 events
    assert all(s["possible_duplicates"] == s["unsettled"] == s["unknown"] == 0 for s in summaries)
    assert WAITED in logs  # the runs did overlap: some waited for another to finish


def test_six_attribute_runs_of_different_dates_at_once_leave_the_newest_values(
    sandbox, braze_conn, warehouse, state_conn_id
):
    sandbox.latency = 0.1
    warehouse.execute("create table users (external_id text)")
    warehouse.executemany("insert into users values (?)", [(f"u{i}",) for i in range(3_000)])
    warehouse.commit()

    def run(day: int) -> tuple[str, str, dict]:
        # Each date's snapshot of the table: every user's plan as of that date.
        operator = {
            "sql": f"select external_id, 'plan-of-2024-01-0{day}' as plan from users order by external_id",
            "sql_conn_id": "warehouse",
            "only_changed": True,
            "concurrency": 4,
            "state_conn_id": state_conn_id,
        }
        return f"backfill__2024-01-0{day}", f"2024-01-0{day}T00:00:00+00:00", operator

    summaries, logs = run_at_once([run(day) for day in (3, 1, 6, 2, 5, 4)])

    held = Counter(u.custom_attributes["plan"] for u in sandbox.store.users())
    assert held == {"plan-of-2024-01-06": 3_000}
    assert WAITED in logs
    # Every row of every run is accounted for: sent, left alone as a later date's (superseded), or unchanged.
    assert all(s["accepted"] + s["superseded"] + s["unchanged"] == 3_000 for s in summaries), summaries
    # The ledger holds the newest values too: the newest date again finds nothing to send.
    [again], _ = run_at_once([("scheduled__2024-01-06-again", "2024-01-06T00:00:00+00:00", run(6)[2])])
    assert again["unchanged"] == 3_000 and again["rows_sent"] == 0
