"""BrazeTrackUsersOperator against the sandbox: what Braze holds afterwards, and the summary."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from airflow_provider_braze.operators import BrazeExportFailed, BrazeTrackUsersOperator
from tests.helpers.airflow import run


def test_attributes_from_records_land_on_profiles(sandbox, braze_conn):
    records = [{"external_id": f"u{i}", "first_name": f"N{i}", "plan": "pro", "score": i} for i in range(200)]
    summary = run(BrazeTrackUsersOperator(task_id="t", record_type="attributes", records=records))

    held = {u.external_id: u for u in sandbox.store.users()}
    assert {k: (u.attributes.get("first_name"), u.custom_attributes) for k, u in held.items()} == {
        f"u{i}": (f"N{i}", {"plan": "pro", "score": i}) for i in range(200)
    }
    assert summary["rows_read"] == summary["accepted"] == 200
    assert summary["requests"] == 3 and summary["skipped"] == summary["rejected"] == 0
    # first_name, plan and score on each profile.
    assert summary["data_points"] == 600 == sandbox.store.data_points


def test_events_from_sql_are_streamed_to_braze(sandbox, braze_conn, warehouse):
    warehouse.execute("create table events (external_id text, name text, time text, properties text, plan text)")
    warehouse.executemany(
        "insert into events values (?, ?, ?, ?, ?)",
        [
            (f"u{i % 7}", "viewed", f"2026-10-{1 + i % 28:02d}T10:00:00Z", json.dumps({"page": i}), "pro")
            for i in range(300)
        ],
    )
    warehouse.commit()
    summary = run(
        BrazeTrackUsersOperator(
            task_id="t",
            record_type="Custom Events",
            sql="select * from events order by rowid",
            sql_conn_id="warehouse",
            fetch_size=50,
        )
    )

    events = sandbox.store.events(name="viewed")
    assert len(events) == 300 and summary["accepted"] == 300 and summary["data_points"] == 300
    assert sorted(e["properties"]["page"] for e in events) == list(range(300))
    # Extra columns become properties.
    assert {e["properties"]["plan"] for e in events} == {"pro"}


def test_purchases_from_a_csv_file(sandbox, braze_conn, tmp_path):
    path = tmp_path / "purchases.csv"
    path.write_text(
        "external_id,product_id,currency,price,quantity,time\n"
        "u1,sku-1,usd,9.99,2,2026-11-01T00:00:00Z\n"
        "u2,sku-2,EUR,120,1,2026-11-02T00:00:00Z\n"
    )
    run(BrazeTrackUsersOperator(task_id="t", record_type="purchases", path=str(path)))
    got = sorted(
        (p["external_id"], p["product_id"], p["currency"], p["price"], p["quantity"]) for p in sandbox.store.purchases()
    )
    assert got == [("u1", "sku-1", "USD", 9.99, 2), ("u2", "sku-2", "EUR", 120.0, 1)]


def test_pre_formatted_fields_send_nested_objects(sandbox, braze_conn):
    records = [{"external_id": "u1", "address": json.dumps({"city": "Lyon", "zip": "69001"}), "tags": '["a","b"]'}]
    run(BrazeTrackUsersOperator(task_id="t", records=records, pre_formatted_fields=["address", "tags"]))
    (user,) = sandbox.store.users()
    assert user.custom_attributes == {"address": {"city": "Lyon", "zip": "69001"}, "tags": ["a", "b"]}


def test_null_handling_unset_removes_attributes(sandbox, braze_conn):
    run(BrazeTrackUsersOperator(task_id="t", records=[{"external_id": "u1", "plan": "pro", "coupon": "X"}]))
    run(
        BrazeTrackUsersOperator(
            task_id="t2", records=[{"external_id": "u1", "plan": "pro", "coupon": None}], null_handling="unset"
        )
    )
    (user,) = sandbox.store.users()
    assert user.custom_attributes == {"plan": "pro"}


def test_null_handling_skip_leaves_attributes_alone(sandbox, braze_conn):
    run(BrazeTrackUsersOperator(task_id="t", records=[{"external_id": "u1", "coupon": "X"}]))
    summary = run(
        BrazeTrackUsersOperator(task_id="t2", records=[{"external_id": "u1", "coupon": None, "plan": "free"}])
    )
    (user,) = sandbox.store.users()
    assert user.custom_attributes == {"coupon": "X", "plan": "free"}
    assert summary["data_points"] == 1


def test_update_existing_only_does_not_create_profiles(sandbox, braze_conn):
    run(BrazeTrackUsersOperator(task_id="t", records=[{"external_id": "u1", "plan": "pro"}]))
    run(
        BrazeTrackUsersOperator(
            task_id="t2",
            records=[{"external_id": "u1", "plan": "team"}, {"external_id": "ghost", "plan": "team"}],
            update_existing_only=True,
        )
    )
    assert {u.external_id: u.custom_attributes["plan"] for u in sandbox.store.users()} == {"u1": "team"}


def test_dry_run_counts_requests_and_data_points_and_sends_nothing(sandbox, braze_conn):
    records = [{"external_id": f"u{i}", "plan": "pro", "score": i} for i in range(160)]
    summary = run(BrazeTrackUsersOperator(task_id="t", records=records, dry_run=True))
    assert summary["dry_run"] is True
    assert (
        summary["rows_read"],
        summary["rows_to_send"],
        summary["requests_needed"],
        summary["data_points_to_spend"],
    ) == (160, 160, 3, 320)
    # Nothing is said to be sent, and nothing was.
    assert (summary["rows_sent"], summary["accepted"], summary["requests"], summary["data_points"]) == (0, 0, 0, 0)
    assert sandbox.requests.records() == [] and sandbox.store.users() == []


def test_decimal_and_dates_from_sql_types(sandbox, braze_conn):
    from datetime import date

    run(
        BrazeTrackUsersOperator(
            task_id="t", records=[{"external_id": "u1", "ltv": Decimal("12.50"), "dob": date(1990, 5, 17)}]
        )
    )
    (user,) = sandbox.store.users()
    assert user.custom_attributes == {"ltv": 12.5} and user.attributes["dob"] == "1990-05-17"


def test_summary_is_small_and_has_no_row_data(sandbox, braze_conn):
    summary = run(
        BrazeTrackUsersOperator(task_id="t", records=[{"external_id": "secret-user", "email": "a@example.com"}])
    )
    text = json.dumps(summary)
    assert "secret-user" not in text and "example.com" not in text
    assert set(summary) >= {
        "rows_read",
        "rows_sent",
        "accepted",
        "skipped",
        "rejected",
        "requests",
        "data_points",
        "seconds",
    }


def test_wrong_record_type_is_a_clear_error(sandbox, braze_conn):
    with pytest.raises(ValueError, match="valid record types: attributes, events, purchases"):
        run(BrazeTrackUsersOperator(task_id="t", record_type="clicks", records=[]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of"),
        ({"records": [], "path": "x.csv"}, "exactly one of"),
        ({"sql": "select 1"}, "sql_conn_id"),
    ],
)
def test_source_arguments_are_checked(sandbox, braze_conn, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run(BrazeTrackUsersOperator(task_id="t", **kwargs))


def test_invalid_row_stops_the_export_when_skip_is_off(sandbox, braze_conn):
    records = [{"external_id": f"u{i}", "plan": "pro"} for i in range(100)]
    records.insert(80, {"plan": "no identifier"})
    with pytest.raises(BrazeExportFailed, match=r"Stopped at row 81: .*identifier") as info:
        run(BrazeTrackUsersOperator(task_id="t", records=records))
    # The 80 rows read before the bad one were sent; none after it.
    assert len(sandbox.store.users()) == 80
    assert "80 rows read before it were sent and accepted" in str(info.value)


def test_rows_braze_refuses_are_traced_to_their_source_rows(sandbox, braze_conn, tmp_path):
    records = [{"external_id": f"u{i}", "plan": "pro"} for i in range(10)]
    # Passes our checks, but Braze refuses an object naming two primary identifiers.
    records[4] = {"external_id": "u4", "braze_id": "5f1c0d2e3a4b5c6d7e8f9a0b", "plan": "pro"}
    rejected = tmp_path / "rejected.jsonl"
    summary = run(
        BrazeTrackUsersOperator(
            task_id="t",
            records=records,
            skip_on_invalid_records=True,
            rejected_records_path=str(rejected),
        )
    )
    assert (summary["accepted"], summary["rejected"]) == (9, 1)
    (line,) = [json.loads(x) for x in rejected.read_text().splitlines()]
    assert line["row"] == 5 and line["stage"] == "rejected" and line["object"]["external_id"] == "u4"


def test_refused_rows_fail_the_task_when_skip_is_off(sandbox, braze_conn):
    records = [{"external_id": "u1", "plan": "pro"}, {"external_id": "u2", "braze_id": "5f1c0d2e3a4b5c6d7e8f9a0b"}]
    with pytest.raises(BrazeExportFailed, match=r"Braze refused 1 of 2 rows; the first: row 2"):
        run(BrazeTrackUsersOperator(task_id="t", records=records))
    assert [u.external_id for u in sandbox.store.users()] == ["u1"]
