"""The Ketch event store, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from airflow_provider_braze.ketch.events import SubscriptionChange, normalise
from airflow_provider_braze.ketch.models import AccessResult, parse_request
from airflow_provider_braze.state import (
    EventRange,
    KetchEventStore,
    RightsRequestClosed,
    RightsRequestNotFound,
)
from airflow_provider_braze.state.schema import ketch_events, ketch_rights_requests
from tests.helpers.ketch_payloads import (
    EMAIL,
    access_request,
    consent_request,
    control_request,
    delete_request,
    legacy_topic_request,
    topic_request,
)


def _event(body, received_at=1_800_000_000.0):
    return normalise(parse_request(body), received_at=received_at)


def _record(store, body):
    assert store.record_event(_event(body)) is True
    return store.get_event(body["metadata"]["uid"]).event_id


def _rows(store, table=ketch_events) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


# -- idempotent, durable recording ----------------------------------------------------------------


def test_record_event_is_true_once_then_false_for_the_same_uid(store):
    event = _event(topic_request(uid="u-1"))
    assert store.record_event(event) is True
    assert store.record_event(event) is False
    assert _rows(store) == 1


def test_repeated_rights_request_creates_one_rights_row(store):
    event = _event(delete_request(uid="r-1"))
    store.record_event(event)
    store.record_event(event)
    assert _rows(store, ketch_rights_requests) == 1


def test_stored_event_reads_back_equal_with_its_id(store):
    event = _event(topic_request(uid="u-2"))
    store.record_event(event)
    stored = store.get_event("u-2")
    assert stored.event_id is not None
    assert stored.subscription_changes == event.subscription_changes
    assert stored.identities == event.identities
    assert (stored.tenant, stored.controller, stored.property_code, stored.environment) == (
        "axonic",
        "axonic",
        "axonic.io",
        "production",
    )
    assert stored.payload == event.payload
    assert store.get_event("nope") is None


def test_events_survive_a_new_store_on_the_same_database(state_url):
    first = KetchEventStore(state_url)
    first.record_event(_event(control_request(uid="u-3")))
    first.dispose()
    second = KetchEventStore(state_url)
    assert second.get_event("u-3").kind == "SubscriptionControlRequest"
    second.dispose()


def test_concurrent_deliveries_of_one_uid_store_one_event(state_url):
    threads, results = 8, []
    stores = [KetchEventStore(state_url) for _ in range(threads)]
    stores[0].ensure_schema()
    event = _event(topic_request(uid="raced"))
    barrier = threading.Barrier(threads)

    def deliver(s):
        barrier.wait()
        results.append(s.record_event(event))

    workers = [threading.Thread(target=deliver, args=(s,)) for s in stores]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(results) == [False] * (threads - 1) + [True]
    assert _rows(stores[0]) == 1
    for s in stores:
        s.dispose()


def test_concurrent_writers_of_different_uids_all_store_with_distinct_ids(state_url):
    stores = [KetchEventStore(state_url) for _ in range(4)]
    stores[0].ensure_schema()

    def deliver(s, n):
        for i in range(25):
            assert s.record_event(_event(topic_request(uid=f"w{n}-{i}")))

    workers = [threading.Thread(target=deliver, args=(s, n)) for n, s in enumerate(stores)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    pending = stores[0].pending_changes()
    assert len(pending) == 100 and len({e.event_id for e in pending}) == 100
    for s in stores:
        s.dispose()


def test_event_ids_grow_in_arrival_order(store):
    ids = [_record(store, topic_request(uid=f"u-{i}")) for i in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert store.latest_event_id() == ids[-1]


# PostgreSQL only: SQLite has a single writer by construction.
@pytest.mark.parametrize("state_url", ["postgresql"], indirect=True)
def test_postgresql_inserts_take_turns_so_ids_commit_in_order(store):
    from airflow_provider_braze.state.ketch_events import _INSERT_LOCK_KEY

    store.ensure_schema()
    done = threading.Event()
    with store.engine.connect() as holder, holder.begin():
        holder.execute(select(func.pg_advisory_xact_lock(_INSERT_LOCK_KEY)))
        worker = threading.Thread(target=lambda: (store.record_event(_event(topic_request())), done.set()))
        worker.start()
        assert not done.wait(0.5)  # an insert waits while another insert's transaction is open
    worker.join(10)
    assert done.is_set()


def test_tables_are_created_on_first_use_by_several_stores(state_url):
    a, b = KetchEventStore(state_url), KetchEventStore(state_url)
    assert a.latest_event_id() is None and b.latest_event_id() is None
    a.ping()
    a.dispose()
    b.dispose()


# -- unsynced changes, ranges, marking --------------------------------------------------------------


def test_unsynced_range_counts_only_subscription_and_control_events(store):
    topic = _record(store, topic_request())
    _record(store, consent_request())
    _record(store, delete_request())
    control = _record(store, control_request())
    assert store.unsynced_range() == EventRange(topic, control, 2)


def test_unsynced_range_is_empty_and_falsy_without_events(store):
    empty = store.unsynced_range()
    assert empty == EventRange(None, None, 0) and not empty


def test_unsynced_range_after_a_watermark(store):
    ids = [_record(store, topic_request()) for _ in range(3)]
    assert store.unsynced_range(after_id=ids[0]) == EventRange(ids[1], ids[2], 2)
    assert store.unsynced_range(after_id=ids[2]).count == 0


def test_pending_changes_come_in_id_order_with_flat_changes(store):
    first = _record(store, legacy_topic_request(submitted=20))
    _record(store, consent_request())
    second = _record(store, control_request(status="denied", submitted=10))
    pending = store.pending_changes()
    assert [e.event_id for e in pending] == [first, second]
    assert pending[0].subscription_changes[0] == SubscriptionChange("newsletter", "email", "granted")
    assert pending[0].submitted_at == 20
    assert [(c.control, c.status) for c in pending[1].control_changes] == [("global_unsubscribe", "denied")]
    assert pending[0].identities[0].identity_value == EMAIL


def test_pending_changes_window_and_limit(store):
    ids = [_record(store, topic_request()) for _ in range(6)]
    assert [e.event_id for e in store.pending_changes(after_id=ids[1], upto_id=ids[4])] == ids[2:5]
    assert [e.event_id for e in store.pending_changes(limit=2)] == ids[:2]
    assert [e.event_id for e in store.pending_changes(after_id=ids[3], limit=10)] == ids[4:]


def test_pending_changes_load_the_payload_only_on_request(store):
    _record(store, topic_request(uid="p-1"))
    assert store.pending_changes()[0].payload is None
    assert '"p-1"' in store.pending_changes(include_payload=True)[0].payload


def test_settling_synced_events_takes_exactly_the_given_ids_out_of_pending(store):
    ids = [_record(store, topic_request()) for _ in range(4)]
    assert store.settle("run-1", synced=[ids[0], ids[2]]) == 2
    assert [e.event_id for e in store.pending_changes()] == [ids[1], ids[3]]
    assert store.unsynced_range() == EventRange(ids[1], ids[3], 2)


def test_a_failed_run_that_settles_nothing_leaves_every_event_pending(store):
    ids = [_record(store, topic_request()) for _ in range(3)]
    store.pending_changes()  # the run reads, then fails before settling
    assert [e.event_id for e in store.pending_changes()] == ids


def test_settling_twice_counts_once(store):
    event_id = _record(store, topic_request())
    assert store.settle("run-1", synced=[event_id]) == 1
    assert store.settle("run-2", synced=[event_id]) == 0


def test_settling_the_events_of_a_range_leaves_later_events_pending(store):
    _record(store, topic_request())
    _record(store, control_request())
    seen = store.unsynced_range()
    late = _record(store, topic_request())
    read = [e.event_id for e in store.pending_changes(upto_id=seen.last_id)]
    assert store.settle("run-1", synced=read) == 2
    assert store.unsynced_range() == EventRange(late, late, 1)
    assert store.settle("run-2") == 0


def test_settling_ignores_events_that_were_never_pending(store):
    consent = _record(store, consent_request())
    rights = _record(store, delete_request())
    assert store.settle("run-1", synced=[consent, rights, 999_999]) == 0


def test_many_ids_can_be_settled_at_once(store):
    ids = [_record(store, control_request()) for _ in range(30)]
    assert store.settle("run-1", synced=ids * 40) == 30  # duplicates and chunking


def test_settling_skipped_events_takes_them_out_of_pending_with_the_reason(store):
    skipped = _record(store, topic_request())
    kept = _record(store, topic_request())
    assert store.settle("run-1", skipped={"no subscription group mapped": [skipped]}) == 1
    assert [e.event_id for e in store.pending_changes()] == [kept]
    with store.engine.connect() as conn:
        row = conn.execute(select(ketch_events).where(ketch_events.c.id == skipped)).one()
    assert (row.sync_status, row.sync_run_id, row.sync_note) == ("skipped", "run-1", "no subscription group mapped")


# -- rights requests --------------------------------------------------------------------------------


def test_rights_request_starts_pending_with_its_callbacks(store):
    _record(store, delete_request(uid="r-1"))
    request = store.rights.get_rights_request("r-1")
    assert (request.kind, request.status, request.reason, request.notified_status) == (
        "DeleteRequest",
        "pending",
        "requested",
        None,
    )
    assert request.callbacks[0].headers == {"Authorization": "Bearer callback-secret"}
    assert request.identities[0].identity_value == EMAIL
    assert request.due_at == 1_702_592_200 and request.submitted_at == 1_700_000_200
    assert request.needs_notification and not request.is_completed
    assert "callback-secret" not in repr(request) and EMAIL not in repr(request)


def test_a_stored_rights_request_event_reads_back_with_its_details(store):
    event = _event(delete_request(uid="r-1"))
    store.record_event(event)
    assert store.get_event("r-1").rights_request == event.rights_request


def test_pending_rights_requests_lists_delete_and_access_oldest_first(store):
    _record(store, access_request(uid="r-a"))
    _record(store, delete_request(uid="r-d"))
    _record(store, topic_request())
    assert [r.request_id for r in store.rights.pending_rights_requests()] == ["r-a", "r-d"]
    assert [r.request_id for r in store.rights.pending_rights_requests(kinds=["DeleteRequest"])] == ["r-d"]
    assert len(store.rights.pending_rights_requests(limit=1)) == 1


def test_update_rights_request_moves_status_and_reason(store):
    _record(store, delete_request(uid="r-1"))
    updated = store.rights.update_rights_request(
        "r-1", "in_progress", result_message="deleting", expected_completion_at=1.8e9
    )
    assert (updated.status, updated.reason, updated.result_message) == ("in_progress", None, "deleting")
    assert updated.expected_completion_at == 1.8e9 and updated.completed_at is None
    done = store.rights.update_rights_request("r-1", "completed", "executed")
    assert (done.status, done.reason, done.result_message) == ("completed", "executed", None)
    assert done.expected_completion_at == 1.8e9 and done.completed_at is not None


def test_completed_rights_request_cannot_change(store):
    _record(store, delete_request(uid="r-1"))
    store.rights.update_rights_request("r-1", "completed", "no_match")
    with pytest.raises(RightsRequestClosed):
        store.rights.update_rights_request("r-1", "in_progress")
    assert store.rights.get_rights_request("r-1").reason == "no_match"


def test_rights_request_leaves_the_pending_list_once_completed_and_notified(store):
    _record(store, delete_request(uid="r-1"))
    store.rights.mark_rights_request_notified("r-1", "pending")
    assert [r.request_id for r in store.rights.pending_rights_requests()] == ["r-1"]  # not completed yet
    store.rights.update_rights_request("r-1", "completed", "executed")
    assert store.rights.pending_rights_requests()[0].needs_notification  # completed, Ketch not told
    store.rights.mark_rights_request_notified("r-1", "completed")
    assert store.rights.pending_rights_requests() == []


def test_access_results_are_kept_for_the_final_status_event(store):
    _record(store, access_request(uid="r-a"))
    result = AccessResult.inline_json({"external_id": "123"})
    store.rights.update_rights_request("r-a", "completed", "executed", results=[result])
    assert store.rights.get_rights_request("r-a").results == (result.to_dict(),)


def test_access_results_over_ketch_limits_are_refused(store):
    _record(store, access_request(uid="r-a"))
    big = AccessResult.inline_json({"blob": "x" * 600_000})
    with pytest.raises(ValueError):
        store.rights.update_rights_request("r-a", "completed", "executed", results=[big, big])
    assert store.rights.get_rights_request("r-a").status == "pending"


def test_unknown_status_or_reason_is_refused(store):
    _record(store, delete_request(uid="r-1"))
    with pytest.raises(ValueError):
        store.rights.update_rights_request("r-1", "done")
    with pytest.raises(ValueError):
        store.rights.update_rights_request("r-1", "completed", "because")
    with pytest.raises(ValueError):
        store.rights.mark_rights_request_notified("r-1", "done")


def test_unknown_rights_request_is_reported(store):
    assert store.rights.get_rights_request("missing") is None
    with pytest.raises(RightsRequestNotFound):
        store.rights.update_rights_request("missing", "in_progress")
    with pytest.raises(RightsRequestNotFound):
        store.rights.mark_rights_request_notified("missing", "pending")


# -- SQLite specifics ---------------------------------------------------------------------------------


def test_sqlite_store_uses_wal_and_a_busy_timeout(sqlite_store):
    sqlite_store.ensure_schema()
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_file_folder_is_created(tmp_path):
    s = KetchEventStore(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'state.db'}")
    assert s.record_event(_event(topic_request()))
    assert (tmp_path / "nested" / "dir" / "state.db").exists()
    s.dispose()


def test_in_memory_sqlite_is_shared_across_threads():
    s = KetchEventStore("sqlite://")
    worker = threading.Thread(target=lambda: s.record_event(_event(topic_request(uid="m-1"))))
    worker.start()
    worker.join()
    assert s.get_event("m-1") is not None
    s.dispose()


def test_statement_parameters_stay_out_of_database_errors(sqlite_store):
    sqlite_store.record_event(_event(topic_request(uid="dup")))
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError) as caught, sqlite_store.engine.begin() as conn:
        conn.execute(
            insert(ketch_events).values(
                uid="dup",
                api_version="v",
                kind="k",
                received_at=0,
                submitted_at=0,
                identities=[{"identityValue": EMAIL}],
                changes=[],
                payload=EMAIL,
            )
        )
    assert EMAIL not in str(caught.value)
