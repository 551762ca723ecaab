"""State store failures are named: the store (path, or URL without its password), the cause, the driver's words."""

from __future__ import annotations

import os
import pickle
import socket
import sqlite3

import psycopg
import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from airflow_provider_braze.state import StateStoreError, create_state_engine, write_transaction
from airflow_provider_braze.state.errors import describe_store, named_error
from airflow_provider_braze.state.schema import braze_sync_settings
from airflow_provider_braze.state.sync_ledger import BatchRecord, SyncLedgerStore
from tests.helpers.secrets import POSTGRES_ENV


def open_run(store: SyncLedgerStore):
    return store.open_run("dag.events", endpoint="users/track", mode="events", run_id="r1")


def fill_the_disk(store: SyncLedgerStore) -> None:
    """Let the SQLite file grow no more: SQLite then fails with SQLITE_FULL, as on a full disk.

    The ledger's threads share one connection (``one_connection``), so the limit holds for its writes.
    """
    with store.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
        conn.exec_driver_sql(f"PRAGMA max_page_count = {pages}")


@pytest.fixture
def sqlite_path(tmp_path):
    return tmp_path / "braze_provider_state.db"


def test_a_full_disk_is_named_with_the_file_and_the_cause(sqlite_path):
    store = SyncLedgerStore(f"sqlite:///{sqlite_path}")
    run = open_run(store)
    fill_the_disk(store)

    with pytest.raises(StateStoreError) as raised:
        store.write_intents(run, [(os.urandom(16), str(i)) for i in range(5_000)])  # a raw-cursor statement

    error = raised.value
    assert (error.store, error.cause) == (str(sqlite_path), "disk full")
    assert str(error) == f"state store {sqlite_path}: disk full (database or disk is full)"
    store.dispose()


def test_a_full_disk_is_named_for_statements_through_sqlalchemy_too(sqlite_path):
    store = SyncLedgerStore(f"sqlite:///{sqlite_path}")
    run = open_run(store)
    fill_the_disk(store)

    with pytest.raises(StateStoreError, match="disk full"):
        store.add_problems(run, [(os.urandom(16), str(i), "invalid", "email", "x" * 200) for i in range(500)])
    store.dispose()


def test_a_read_only_store_is_named(sqlite_path):
    SyncLedgerStore(f"sqlite:///{sqlite_path}").salt()  # the tables exist; now open the file read-only

    store = SyncLedgerStore(f"sqlite:///file:{sqlite_path}?mode=ro&uri=true")
    with pytest.raises(StateStoreError) as raised:
        open_run(store)

    assert (raised.value.store, raised.value.cause) == (str(sqlite_path), "read-only")
    assert "attempt to write a readonly database" in str(raised.value)
    store.dispose()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to a file whatever its mode")
def test_a_file_without_write_permission_is_read_only(sqlite_path):
    SyncLedgerStore(f"sqlite:///{sqlite_path}").salt()
    sqlite_path.chmod(0o444)
    store = SyncLedgerStore(f"sqlite:///{sqlite_path}")
    with pytest.raises(StateStoreError) as raised:
        open_run(store)
    assert raised.value.cause == "read-only"
    store.dispose()


def test_a_folder_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "a-file").write_text("")
    path = tmp_path / "a-file" / "state" / "braze_provider_state.db"  # under a file: no folder can be made

    store = SyncLedgerStore(f"sqlite:///{path}")
    with pytest.raises(StateStoreError) as raised:
        store.salt()

    error = raised.value
    assert (error.store, error.cause) == (str(path), "cannot open the file")
    assert str(error).startswith(f"state store {path}: cannot open the file (unable to open database file")
    assert f"the folder {path.parent} does not exist and could not be created" in str(error)


def test_a_store_locked_past_the_busy_timeout_is_named(sqlite_path):
    SyncLedgerStore(f"sqlite:///{sqlite_path}").salt()
    holder = sqlite3.connect(sqlite_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    engine = create_state_engine(f"sqlite:///{sqlite_path}", sqlite_busy_timeout=0.05)
    try:
        with pytest.raises(StateStoreError) as raised, write_transaction(engine) as conn:
            conn.execute(insert(braze_sync_settings).values(name="x", value=b"1"))
        assert raised.value.cause == "locked" and "database is locked" in str(raised.value)
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()


def closed_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_postgresql_is_named_without_its_password():
    port = closed_loopback_port()
    store = SyncLedgerStore(f"postgresql+psycopg://braze:db-pass-81c2@127.0.0.1:{port}/state?connect_timeout=2")

    with pytest.raises(StateStoreError) as raised:
        store.salt()

    error = raised.value
    assert error.cause == "unreachable"
    assert error.store == f"postgresql+psycopg://braze:***@127.0.0.1:{port}/state?connect_timeout=2"
    assert "Connection refused" in error.driver_message
    assert "db-pass-81c2" not in str(error) and "db-pass-81c2" not in repr(error)


@pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"needs {POSTGRES_ENV}")
def test_a_read_only_postgresql_is_named():
    url = os.environ[POSTGRES_ENV]
    SyncLedgerStore(url).salt()
    store = SyncLedgerStore(f"{url}{'&' if '?' in url else '?'}options=-c%20default_transaction_read_only%3Don")

    with pytest.raises(StateStoreError) as raised:
        open_run(store)

    assert raised.value.cause == "read-only"
    assert "read-only transaction" in raised.value.driver_message
    assert (store.engine.url.password or "@@") not in str(raised.value)
    store.dispose()


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (psycopg.errors.DiskFull('could not extend file "base/16384/2619": No space left on device'), "disk full"),
        (psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"), "read-only"),
        (psycopg.errors.AdminShutdown("terminating connection due to administrator command"), "unreachable"),
        (psycopg.errors.LockNotAvailable("could not obtain lock on row"), "locked"),
        (psycopg.OperationalError("connection failed: timeout expired"), "unreachable"),
    ],
)
def test_postgresql_errors_are_classified_by_sqlstate_and_message(error, cause):
    named = named_error(error, "postgresql+psycopg://braze:pw-9@db.internal/state", psycopg)
    assert named is not None and named.cause == cause
    assert named.store == "postgresql+psycopg://braze:***@db.internal/state"


def test_only_the_first_line_of_the_driver_message_is_kept():
    error = psycopg.errors.DiskFull("could not write: No space left on device\nDETAIL: Key (email)=(a@b.c)")
    named = named_error(error, "postgresql+psycopg://db.internal/state", psycopg)
    assert named is not None and named.driver_message == "could not write: No space left on device"


def test_errors_about_the_statement_are_not_store_failures(sqlite_path):
    store = SyncLedgerStore(f"sqlite:///{sqlite_path}")
    store.salt()
    # Callers settle races by catching IntegrityError (a second salt, a sync created twice): it stays one.
    with pytest.raises(IntegrityError), write_transaction(store.engine) as conn:
        conn.execute(insert(braze_sync_settings).values(name="salt", value=b"again"))
    store.dispose()


def test_the_error_survives_pickling():
    error = StateStoreError("/data/braze_provider_state.db", "disk full", "database or disk is full")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object, as Airflow moves errors
    assert (copy.store, copy.cause, copy.driver_message, str(copy)) == (
        error.store,
        error.cause,
        error.driver_message,
        str(error),
    )


def test_the_store_is_described_without_secrets():
    assert describe_store("sqlite:////srv/airflow/braze_provider_state.db") == "/srv/airflow/braze_provider_state.db"
    assert describe_store("sqlite://") == "in-memory SQLite database"
    assert (
        describe_store("postgresql+psycopg://u:s3cret@db:5432/state?sslmode=require&sslpassword=k3y")
        == "postgresql+psycopg://u:***@db:5432/state?sslmode=require"
    )


def test_a_batch_record_that_cannot_be_committed_names_the_store(sqlite_path):
    store = SyncLedgerStore(f"sqlite:///{sqlite_path}")
    run = open_run(store)
    keys = [os.urandom(16) for _ in range(3_000)]
    store.write_intents(run, [(k, None) for k in keys])
    fill_the_disk(store)
    with pytest.raises(StateStoreError, match="disk full"):
        store.record(run, BatchRecord(intents=[(os.urandom(16), None) for _ in range(3_000)], accepted_keys=keys))
    store.dispose()
