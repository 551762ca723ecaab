"""Exports that consult the sync ledger: only what changed is sent, events go once, refusals come back."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.braze.items import FLUSH
from airflow_provider_braze.braze.sender import BatchResult, ItemOutcome
from airflow_provider_braze.hooks.state import sync_ledger_store
from airflow_provider_braze.incremental import IncrementalSync, source_digest
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.operators import BrazeExportFailed, BrazeTrackUsersOperator
from airflow_provider_braze.records.attributes import AttributesBuilder
from airflow_provider_braze.state.sync_ledger import SyncLedgerStore

USERS = [{"external_id": f"u{i}", "plan": "pro", "score": i, "city": "Lyon"} for i in range(300)]


def export(run_id: str = "run-1", **kwargs):
    """Run a track export as task ``t`` of DAG run ``run_id`` (attempts of one run share the id)."""
    kwargs.setdefault("task_id", "t")
    return BrazeTrackUsersOperator(**kwargs).execute(context={"run_id": run_id})


def profiles(sandbox) -> dict[str, dict]:
    return {u.external_id: dict(u.custom_attributes) for u in sandbox.store.users()}


def events_of(sandbox) -> list[tuple]:
    return sorted(
        (e["external_id"], e["name"], e["time"], tuple(sorted(e.get("properties", {}).items())))
        for e in sandbox.store.events()
    )


# --- attributes ----------------------------------------------------------------------------------


def test_a_second_run_with_nothing_changed_sends_nothing(sandbox, braze_conn):
    first = export(records=USERS, only_changed=True)
    points = sandbox.store.data_points
    second = export("run-2", records=USERS, only_changed=True)

    assert first["accepted"] == 300 and points == 900
    assert second["rows_read"] == second["unchanged"] == 300
    assert second["rows_sent"] == second["requests"] == 0
    assert second["data_points"] == 0 and second["data_points_saved"] == 900
    assert sandbox.store.data_points == points


def test_only_the_changed_attribute_of_a_changed_row_is_sent(sandbox, braze_conn):
    export(records=USERS, only_changed=True)
    changed = [dict(u) for u in USERS]
    for i in range(0, 300, 10):
        changed[i]["plan"] = "free"
    points = sandbox.store.data_points
    summary = export("run-2", records=changed, only_changed=True)

    assert summary["rows_sent"] == summary["accepted"] == 30 and summary["unchanged"] == 270
    # One data point per changed row: only "plan" was written.
    assert sandbox.store.data_points - points == 30 == summary["data_points"]
    assert summary["data_points_saved"] == 300 * 3 - 30
    held = profiles(sandbox)
    assert held["u10"] == {"plan": "free", "score": 10, "city": "Lyon"} and held["u11"]["plan"] == "pro"


@pytest.mark.parametrize("gap", [1, 2_100], ids=["same lookup chunk", "later lookup chunk"])
def test_a_user_changed_then_changed_back_in_one_source_ends_as_its_last_row(sandbox, braze_conn, gap):
    # The last row equals what the ledger holds, but the earlier row of the same run changes Braze
    # first: the last row must still be sent, wherever the rows fall in the lookups.
    others = [{"external_id": f"o{i}", "plan": "pro"} for i in range(gap - 1)]
    export(records=[{"external_id": "u1", "plan": "pro"}, *others], only_changed=True)
    summary = export(
        "run-2",
        records=[{"external_id": "u1", "plan": "free"}, *others, {"external_id": "u1", "plan": "pro"}],
        only_changed=True,
    )

    assert summary["rows_sent"] == 2 and summary["unchanged"] == gap - 1
    assert profiles(sandbox)["u1"] == {"plan": "pro"}
    third = export("run-3", records=[{"external_id": "u1", "plan": "pro"}, *others], only_changed=True)
    assert third["rows_sent"] == 0


def test_an_unchanged_row_is_settled_without_being_built(sandbox, braze_conn, monkeypatch):
    export(records=USERS, only_changed=True)
    built = spy_on_builds(monkeypatch)
    changed = [dict(u) for u in USERS]
    changed[7]["plan"] = "free"
    summary = export("run-2", records=changed, only_changed=True)

    assert built == [8]  # refs are 1-based: only the changed row was built
    assert summary["rows_read"] == 300 and summary["unchanged"] == 299 and summary["rows_sent"] == 1
    assert summary["data_points_saved"] == 299 * 3 + 2


def spy_on_builds(monkeypatch) -> list[int]:
    """The refs of the rows the attributes builder builds from now on."""
    built: list[int] = []
    original = AttributesBuilder.build

    def build(self, row, ref):
        built.append(ref)
        return original(self, row, ref)

    monkeypatch.setattr(AttributesBuilder, "build", build)
    return built


def test_a_changed_builder_setting_rebuilds_every_row_and_sends_what_it_changes(sandbox, braze_conn, monkeypatch):
    rows = [{"external_id": "u1", "tags": '["a", "b"]'}, {"external_id": "u2", "tags": None, "plan": "pro"}]
    export(records=rows, only_changed=True)
    assert profiles(sandbox)["u1"] == {"tags": '["a", "b"]'}  # text, as no column was pre-formatted
    built = spy_on_builds(monkeypatch)
    summary = export("run-2", records=rows, only_changed=True, pre_formatted_fields=["tags"])

    # The same source rows build otherwise now: both are built and compared, the one that changed is sent.
    assert built == [1, 2] and summary["rows_sent"] == 1 and summary["unchanged"] == 1
    assert profiles(sandbox)["u1"] == {"tags": ["a", "b"]}


def test_a_column_whose_type_changed_is_a_change_even_where_its_text_is_the_same(sandbox, braze_conn):
    export(records=[{"external_id": "u1", "score": "1.5"}], only_changed=True)
    summary = export("run-2", records=[{"external_id": "u1", "score": Decimal("1.5")}], only_changed=True)
    assert summary["rows_sent"] == 1 and profiles(sandbox)["u1"] == {"score": 1.5}


def test_after_an_upgrade_unchanged_rows_are_built_once_sent_never_then_settled_again(sandbox, braze_conn, monkeypatch):
    export(records=USERS, only_changed=True)
    monkeypatch.setattr(source_digest, "__version__", "99.0.0")  # a new release may build rows otherwise
    built = spy_on_builds(monkeypatch)
    upgraded = export("run-2", records=USERS, only_changed=True)
    assert len(built) == 300 and upgraded["rows_sent"] == 0 and upgraded["unchanged"] == 300
    built.clear()
    later = export("run-3", records=USERS, only_changed=True)
    # The first run under the new release stored the rows' new digests: nothing is built any more.
    assert built == [] and later["unchanged"] == 300 and later["rows_sent"] == 0


def test_a_later_row_of_a_user_waits_until_its_earlier_row_in_flight_is_answered(tmp_path):
    # The earlier row of the user is planned but not yet answered (its batch is in flight): the later
    # row, although it is the ledger's current row, is not sent beside it (a faster answer would let
    # the earlier value win); the planner tells the batcher to send what it holds, waits for the
    # answer, then decides the later row against what Braze accepted.
    store = SyncLedgerStore(f"sqlite:///{tmp_path / 'state.db'}")
    builder = AttributesBuilder()

    def plan(run_id, rows, chunk_size=3):
        run = store.open_run("dag.t", endpoint="users/track", mode="attributes", run_id=run_id)
        report = ExportLedger("users/track")
        sync = IncrementalSync(
            store,
            run,
            record_type="attributes",
            report=report,
            only_changed=True,
            chunk_size=chunk_size,
            builder_settings=builder.settings(),
        )

        def build(ref, data, problem):  # as the export's: counts the row it builds
            report.read()
            return builder.build(data, ref)

        return sync, sync.plan_rows([(i + 1, row, None) for i, row in enumerate(rows)], build), report

    others = [{"external_id": f"o{i}", "plan": "pro"} for i in range(5)]
    sync, planned, _ = plan("run-1", [{"external_id": "u1", "plan": "pro"}, *others])
    sync.journal.after_send(accepted(list(planned)))
    sync, planned, report = plan(
        "run-2", [{"external_id": "u1", "plan": "free"}, *others, {"external_id": "u1", "plan": "pro"}]
    )
    first = list(itertools.takewhile(lambda item: item is not FLUSH, planned))
    assert [(i.ref, i.value) for i in first] == [(1, {"external_id": "u1", "plan": "free"})]
    assert report.rows_read == 7  # every row was read: the last one waits
    sync.journal.after_send(accepted(first))  # Braze answers the first row
    assert [(i.ref, i.value) for i in planned] == [(7, {"external_id": "u1", "plan": "pro"})]
    assert report.unchanged == 5
    store.dispose()


def accepted(items):
    """A batch result in which Braze accepted every item."""
    return BatchResult("users/track", outcomes=[ItemOutcome(item, "accepted") for item in items])


def test_without_only_changed_every_row_is_rewritten(sandbox, braze_conn):
    export(records=USERS)
    points = sandbox.store.data_points
    summary = export("run-2", records=USERS)
    assert summary["accepted"] == 300 and summary["unchanged"] == 0
    assert sandbox.store.data_points - points == 900


def test_full_resync_sends_everything_once_then_nothing(sandbox, braze_conn):
    export(records=USERS, only_changed=True)
    sandbox.store.clear()  # someone changed Braze by hand: the ledger no longer matches it
    resync = export("run-2", records=USERS, only_changed=True, full_resync=True)
    after = export("run-3", records=USERS, only_changed=True)

    assert resync["accepted"] == 300 and resync["data_points"] == 900
    assert profiles(sandbox) == {u["external_id"]: {k: v for k, v in u.items() if k != "external_id"} for u in USERS}
    assert after["unchanged"] == 300 and after["rows_sent"] == 0


def test_null_handling_unset_diffs_nulls_as_values(sandbox, braze_conn):
    rows = [{"external_id": "u1", "plan": "pro", "coupon": "X"}]
    export(records=rows, only_changed=True, null_handling="unset")
    rows[0]["coupon"] = None
    unset = export("run-2", records=rows, only_changed=True, null_handling="unset")
    again = export("run-3", records=rows, only_changed=True, null_handling="unset")

    assert unset["accepted"] == 1 and "coupon" not in profiles(sandbox)["u1"]
    assert again["unchanged"] == 1


def test_null_handling_skip_leaves_a_null_out_of_the_comparison(sandbox, braze_conn):
    rows = [{"external_id": "u1", "plan": "pro", "coupon": "X"}]
    export(records=rows, only_changed=True)
    rows[0]["coupon"] = None
    summary = export("run-2", records=rows, only_changed=True)
    assert summary["unchanged"] == 1 and profiles(sandbox)["u1"]["coupon"] == "X"


def test_increments_are_sent_on_every_run_but_never_twice_in_one(sandbox, braze_conn):
    rows = [{"external_id": "u1", "logins": '{"inc": 1}'}]
    export(records=rows, only_changed=True, pre_formatted_fields=["logins"])
    export("run-2", records=rows, only_changed=True, pre_formatted_fields=["logins"])
    retried = export("run-2", records=rows, only_changed=True, pre_formatted_fields=["logins"])

    assert profiles(sandbox)["u1"]["logins"] == 2
    assert retried["already_sent"] == 1 and retried["rows_sent"] == 0


def test_a_retried_attempt_skips_rows_the_earlier_attempt_had_accepted(sandbox, braze_conn):
    export(records=USERS[:200])  # attempt 1 stopped after 200 rows
    points = sandbox.store.data_points
    retry = export(records=USERS)  # attempt 2 of the same run

    assert retry["already_sent"] == 200 and retry["accepted"] == 100
    assert sandbox.store.data_points - points == 300
    # A later run is not a retry: without only_changed it rewrites every row.
    assert export("run-2", records=USERS)["accepted"] == 300


def test_rows_braze_refused_are_sent_again_by_the_next_run(sandbox, braze_conn):
    sandbox.settings.max_product_ids = 2
    rows = [
        {
            "external_id": f"u{i}",
            "product_id": f"sku-{i}",
            "currency": "USD",
            "price": 1,
            "time": "2026-11-01T00:00:00Z",
        }
        for i in range(4)
    ]
    first = export(record_type="purchases", records=rows, skip_on_invalid_records=True)
    sandbox.settings.max_product_ids = 10
    second = export("run-2", record_type="purchases", records=rows, skip_on_invalid_records=True)

    assert first["accepted"] == 2 and first["rejected"] == 2
    assert second["already_sent"] == 2 and second["accepted"] == 2 and second["recovered"] == 2
    assert sorted(p["product_id"] for p in sandbox.store.purchases()) == ["sku-0", "sku-1", "sku-2", "sku-3"]
    state = sync_ledger_store(None).state("adhoc_airflow.t")
    assert state.keys == {"accepted": 4} and state.open_problems == {}


def test_invalid_rows_are_kept_in_the_ledger_with_their_reason(sandbox, braze_conn):
    rows = [{"external_id": "u1", "dob": "not a date"}, {"external_id": "u2", "plan": "pro"}]
    export(records=rows, skip_on_invalid_records=True)
    assert sync_ledger_store(None).state("adhoc_airflow.t").open_problems == {"invalid": 1}


# --- events and purchases ------------------------------------------------------------------------

EVENTS = [
    {"external_id": f"u{i % 17}", "name": "viewed", "time": f"2026-11-01T10:{i // 60:02d}:{i % 60:02d}Z", "page": i}
    for i in range(400)
]


def test_an_event_accepted_once_is_never_sent_again(sandbox, braze_conn):
    first = export(record_type="events", records=EVENTS)
    overlapping = [*EVENTS[200:], dict(EVENTS[0], page=10_000)]  # a later window overlapping the first
    second = export("run-2", record_type="events", records=overlapping)

    assert first["accepted"] == 400
    assert second["already_sent"] == 200 and second["accepted"] == 1
    stored = events_of(sandbox)
    assert len(stored) == 401 == len(set(stored))


def test_event_key_column_names_events_and_is_sent_as_a_property(sandbox, braze_conn):
    rows = [
        {"external_id": "u1", "name": "paid", "time": "2026-11-01T00:00:00Z", "event_id": f"e{i}"} for i in range(3)
    ]
    export(record_type="events", records=rows, event_key_column="event_id")
    # Same content, new ids: new events. Same ids: already sent, whatever the content says now.
    again = export(
        "run-2",
        record_type="events",
        event_key_column="event_id",
        records=[dict(r, name="renamed") for r in rows] + [dict(rows[0], event_id="e9")],
    )

    assert again["already_sent"] == 3 and again["accepted"] == 1
    assert sorted(e["properties"]["event_id"] for e in sandbox.store.events()) == ["e0", "e1", "e2", "e9"]


def test_a_row_without_its_event_key_stops_a_strict_export_by_name(sandbox, braze_conn):
    rows = [{"external_id": "u1", "name": "paid", "time": "2026-11-01T00:00:00Z", "event_id": i} for i in range(4)]
    rows[2]["event_id"] = None
    with pytest.raises(BrazeExportFailed, match=r"row 3, column 'event_id': event_id is empty"):
        export(record_type="events", records=rows, event_key_column="event_id")
    assert sorted(e["properties"]["event_id"] for e in sandbox.store.events()) == [0, 1]


def test_a_row_without_its_event_key_is_skipped_when_asked(sandbox, braze_conn):
    rows = [{"external_id": "u1", "name": "paid", "time": "2026-11-01T00:00:00Z", "event_id": i} for i in range(4)]
    rows[2]["event_id"] = ""
    summary = export(record_type="events", records=rows, event_key_column="event_id", skip_on_invalid_records=True)
    assert summary["skipped"] == 1 and summary["accepted"] == 3
    assert sync_ledger_store(None).state("adhoc_airflow.t").open_problems == {"invalid": 1}


def test_the_same_event_twice_in_one_source_is_sent_once_and_reported(sandbox, braze_conn, caplog):
    summary = export(record_type="events", records=EVENTS[:5] + EVENTS[:2])
    assert summary["accepted"] == 5 and summary["duplicate_rows"] == 2
    assert len(sandbox.store.events()) == 5
    assert "Row 6 repeats an earlier row of this run" in caplog.text


def test_a_dry_run_reads_the_ledger_and_writes_nothing(sandbox, braze_conn):
    export(records=USERS, only_changed=True)
    changed = [dict(u, plan="free") if i < 7 else u for i, u in enumerate(USERS)]
    dry = export("run-2", records=changed, only_changed=True, dry_run=True)
    real = export("run-3", records=changed, only_changed=True)
    assert dry["unchanged"] == real["unchanged"] == 293 and dry["rows_to_send"] == real["rows_sent"] == 7
    assert dry["data_points_to_spend"] == real["data_points"] == 7


def test_sync_ledger_false_is_a_one_shot_export(sandbox, braze_conn):
    export(record_type="events", records=EVENTS[:10], sync_ledger=False)
    again = export("run-2", record_type="events", records=EVENTS[:10], sync_ledger=False)
    assert again["accepted"] == 10 and len(sandbox.store.events()) == 20
    assert sync_ledger_store(None).state("adhoc_airflow.t") is None


def test_a_sync_key_keeps_its_mode(sandbox, braze_conn):
    export(records=USERS[:3], sync_key="crm")
    with pytest.raises(AirflowFailException, match="sync_key 'crm' belongs to a sync of attributes"):
        export("run-2", record_type="events", records=EVENTS[:3], sync_key="crm")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"record_type": "events", "only_changed": True}, "only_changed and full_resync apply to attribute exports"),
        ({"record_type": "attributes", "event_key_column": "id"}, "event_key_column applies to event and purchase"),
    ],
)
def test_options_that_do_not_fit_the_record_type_are_refused(sandbox, braze_conn, kwargs, message):
    with pytest.raises(Exception, match=message):
        export(records=[{"external_id": "u1"}], **kwargs)


def test_a_run_that_fails_on_a_bad_row_is_recorded_failed_in_the_ledger(sandbox, braze_conn):
    rows = [*USERS[:3], {"external_id": "", "plan": "x"}]
    with pytest.raises(BrazeExportFailed, match="Stopped at row 4"):
        export(records=rows)
    export("run-2", records=rows, skip_on_invalid_records=True)

    runs = sync_ledger_store(None).runs("adhoc_airflow.t")
    assert [(r["run_id"], r["status"]) for r in runs] == [("run-2", "success"), ("run-1", "failed")]


@pytest.mark.parametrize("only_changed", [False, True])
def test_the_last_row_of_a_user_wins_whatever_the_answers_latency(sandbox, braze_conn, only_changed):
    # A third of the answers are slow: a later batch often overtakes an earlier one. Every user has two
    # rows, some side by side, some 3,000 rows apart; the last one's values must be what Braze holds.
    sandbox.faults.update(slow_rate=0.3, slow_seconds=0.3)
    first = [{"external_id": f"u{i}", "plan": "first", "seats": 1} for i in range(3_000)]
    last = [{"external_id": f"u{i}", "plan": "last", "seats": 2} for i in range(3_000)]
    rows = [row for i in range(3_000) for row in ([first[i], last[i]] if i % 3 == 0 else [first[i]])]
    rows += [last[i] for i in range(3_000) if i % 3]

    summary = export(records=rows, only_changed=only_changed, concurrency=16)

    held = profiles(sandbox)
    assert sum(1 for i in range(3_000) if held[f"u{i}"] == {"plan": "last", "seats": 2}) == 3_000
    assert summary["accepted"] == 6_000 and summary["failed"] == summary["rejected"] == 0
