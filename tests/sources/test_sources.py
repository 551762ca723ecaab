"""Source rows: what each source yields, how it streams, and what misuse is told."""

from __future__ import annotations

import itertools
import json
import tracemalloc
from datetime import datetime
from decimal import Decimal

import pytest

from airflow_provider_braze.sources import RowSource, open_source
from tests.helpers.sources import (
    BIG_TABLE_ROWS,
    SQLITE_CONN_ID,
    make_users_db,
    rows_of,
    set_connection,
)

# -- choosing the source ------------------------------------------------------------------------


def test_no_source_is_an_error():
    with pytest.raises(ValueError, match=r"give exactly one of sql \(with sql_conn_id\), records or path; got none"):
        open_source()


@pytest.mark.parametrize(
    ("arguments", "got"),
    [
        ({"sql": "SELECT 1", "sql_conn_id": "x", "path": "a.csv"}, "got sql and path"),
        ({"sql": "SELECT 1", "sql_conn_id": "x", "records": []}, "got sql and records"),
        ({"records": [], "path": "a.csv"}, "got records and path"),
        ({"sql": "SELECT 1", "records": [], "path": "a.csv"}, "got sql and records and path"),
    ],
)
def test_more_than_one_source_is_an_error_naming_them(arguments, got):
    with pytest.raises(ValueError, match=got):
        open_source(**arguments)


def test_sql_without_sql_conn_id_is_an_error():
    with pytest.raises(ValueError, match="sql needs sql_conn_id"):
        open_source(sql="SELECT 1")


def test_empty_sql_is_an_error():
    with pytest.raises(ValueError, match="sql is empty"):
        open_source(sql="  ", sql_conn_id="x")


def test_empty_path_is_an_error():
    with pytest.raises(ValueError, match="path is empty"):
        open_source(path="")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"records": [], "sql_conn_id": "x"}, "sql_conn_id is only used with sql"),
        ({"records": [], "parameters": [1]}, "parameters is only used with sql"),
        ({"records": [], "sql_conn_id": "x", "parameters": [1]}, "sql_conn_id and parameters are only used with sql"),
        ({"records": [], "file_format": "csv"}, "file_format is only used with path"),
        ({"sql": "SELECT 1", "sql_conn_id": "x", "csv_options": {}}, "csv_options is only used with path"),
    ],
)
def test_arguments_of_another_source_are_an_error(arguments, message):
    with pytest.raises(ValueError, match=message):
        open_source(**arguments)


@pytest.mark.parametrize("fetch_size", [0, -5, "100", True, 2.5])
def test_fetch_size_must_be_a_positive_integer(fetch_size):
    with pytest.raises(ValueError, match="fetch_size must be a positive integer"):
        open_source(records=[], fetch_size=fetch_size)


def test_sources_are_row_sources():
    with open_source(records=[]) as source:
        assert isinstance(source, RowSource)


def test_a_source_can_be_read_only_once():
    source = open_source(records=[{"a": 1}])
    list(source)
    with pytest.raises(RuntimeError, match="open the source again"):
        list(source)


# -- SQL ------------------------------------------------------------------------------------------


def test_sql_rows_are_numbered_from_one_and_keyed_by_column(sqlite_users):
    rows = rows_of(sql="SELECT external_id, score FROM users ORDER BY score LIMIT 3", sql_conn_id=sqlite_users)
    assert rows == [
        (1, {"external_id": "u1", "score": 1}, None),
        (2, {"external_id": "u2", "score": 2}, None),
        (3, {"external_id": "u3", "score": 3}, None),
    ]


def test_sql_values_keep_the_driver_types(sqlite_users):
    [(_, row, _)] = rows_of(
        sql="SELECT score, ratio, note, x'00ff' AS raw FROM users WHERE external_id = 'u2'", sql_conn_id=sqlite_users
    )
    assert row == {"score": 2, "ratio": 0.5, "note": None, "raw": b"\x00\xff"}


def test_sql_positional_parameters_are_bound(sqlite_users):
    rows = rows_of(sql="SELECT external_id FROM users WHERE score > ?", parameters=[3], sql_conn_id=sqlite_users)
    assert [row["external_id"] for _, row, _ in rows] == ["u4", "u5"]


def test_sql_named_parameters_are_bound(sqlite_users):
    rows = rows_of(
        sql="SELECT external_id FROM users WHERE email = :email",
        parameters={"email": "u3@example.com"},
        sql_conn_id=sqlite_users,
    )
    assert rows == [(1, {"external_id": "u3"}, None)]


def test_sql_trailing_semicolon_is_ignored(sqlite_users):
    assert len(rows_of(sql="SELECT * FROM users;\n", sql_conn_id=sqlite_users, count_rows=True)) == 5


def test_sql_total_is_unknown_unless_rows_are_counted(sqlite_users):
    with open_source(sql="SELECT * FROM users", sql_conn_id=sqlite_users) as source:
        assert source.total is None


def test_count_rows_gives_the_total_before_reading(sqlite_users):
    with open_source(
        sql="SELECT * FROM users WHERE score > ?", parameters=[1], sql_conn_id=sqlite_users, count_rows=True
    ) as source:
        assert source.total == 4
        assert len(list(source)) == 4


def test_count_rows_survives_a_trailing_line_comment(sqlite_users):
    with open_source(sql="SELECT * FROM users -- all of them", sql_conn_id=sqlite_users, count_rows=True) as source:
        assert source.total == 5


def test_sql_description_names_the_connection_and_the_start_of_the_query(sqlite_users):
    sql = "SELECT external_id,\n       email\nFROM users WHERE " + " OR ".join(f"score = {i}" for i in range(30))
    with open_source(sql=sql, sql_conn_id=sqlite_users) as source:
        assert source.description.startswith(f"{SQLITE_CONN_ID}: SELECT external_id, email FROM users WHERE score")
        assert source.description.endswith("...")
        assert len(source.description) == len(SQLITE_CONN_ID) + 2 + 80


def test_sql_rows_stream_in_fetchmany_batches(sqlite_big, driver_calls):
    with open_source(sql="SELECT * FROM users", sql_conn_id=sqlite_big, fetch_size=1000) as source:
        rows = iter(source)
        first = list(itertools.islice(rows, 10))
        assert [ref for ref, _, _ in first] == list(range(1, 11))
        assert driver_calls.fetches == [(1000, 1000)]  # one batch of 200,000 rows read so far


def test_sql_reads_every_batch_to_the_end(sqlite_big, driver_calls):
    count = sum(1 for _ in open_source(sql="SELECT * FROM users", sql_conn_id=sqlite_big, fetch_size=1000))
    assert count == BIG_TABLE_ROWS
    assert driver_calls.fetches[-1] == (1000, 0)
    assert all(size == 1000 for size, _ in driver_calls.fetches)


def test_sql_memory_stays_flat_over_a_large_table(sqlite_big):
    tracemalloc.start()
    try:
        with open_source(sql="SELECT * FROM users", sql_conn_id=sqlite_big, fetch_size=1000) as source:
            for _ in source:
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 200,000 rows as dicts would take about 100 MB; one batch of 1,000 takes well under 2 MB.
    assert peak < 5_000_000


def test_sql_connection_closes_when_the_rows_run_out(sqlite_users, driver_calls):
    source = open_source(sql="SELECT * FROM users", sql_conn_id=sqlite_users)
    list(source)
    assert (driver_calls.cursors_closed, driver_calls.connections_closed) == (1, 1)


def test_sql_connection_closes_when_reading_stops_early(sqlite_users, driver_calls):
    with open_source(sql="SELECT * FROM users", sql_conn_id=sqlite_users) as source:
        next(iter(source))
    assert driver_calls.connections_closed == 1


def test_sql_connection_closes_when_the_query_fails(sqlite_users, driver_calls):
    with pytest.raises(Exception, match="no such table"):
        open_source(sql="SELECT * FROM nowhere", sql_conn_id=sqlite_users)
    assert driver_calls.connections_closed == 1


def test_sql_that_returns_no_result_set_is_an_error(sqlite_users):
    with pytest.raises(ValueError, match="returns no rows; sql must be a query"):
        open_source(sql="UPDATE users SET score = 0", sql_conn_id=sqlite_users)


def test_sql_with_two_columns_of_one_name_is_an_error(sqlite_users):
    with pytest.raises(ValueError, match="more than one column named 'external_id'; give each column its own name"):
        open_source(sql="SELECT external_id, email AS external_id FROM users", sql_conn_id=sqlite_users)


def test_sql_conn_id_of_a_connection_that_is_not_sql_is_an_error(monkeypatch):
    set_connection(monkeypatch, "braze_src_fs", conn_type="fs", extra={"path": "/tmp"})
    with pytest.raises(
        ValueError, match=r"'braze_src_fs' is a 'fs' connection whose hook \(FSHook\) is not a SQL hook"
    ):
        open_source(sql="SELECT 1", sql_conn_id="braze_src_fs")


def test_sql_conn_id_that_is_not_defined_is_an_error():
    with pytest.raises(Exception, match="braze_src_undefined"):
        open_source(sql="SELECT 1", sql_conn_id="braze_src_undefined")


# -- PostgreSQL (psycopg 3 and psycopg2) ---------------------------------------------------------


def _server_side_fetches(conn_id):
    """The statements of every session now holding a cursor of ours, seen from another session."""
    from airflow.sdk import BaseHook

    hook = BaseHook.get_connection(conn_id).get_hook()
    rows = hook.get_records("SELECT query FROM pg_stat_activity WHERE query LIKE 'FETCH FORWARD % FROM %braze_src_%'")
    return [query for (query,) in rows]


def test_postgres_streams_through_a_server_side_cursor(postgres_table):
    conn_id, table = postgres_table
    with open_source(sql=f"SELECT id FROM {table} ORDER BY id", sql_conn_id=conn_id, fetch_size=100) as source:
        rows = iter(source)
        first = list(itertools.islice(rows, 10))
        assert [row["id"] for _, row, _ in first] == list(range(1, 11))
        assert source.cursor_kind == "server-side cursor"
        assert any(q.startswith("FETCH FORWARD 100 FROM") for q in _server_side_fetches(conn_id))


def test_postgres_reads_every_row(postgres_table):
    conn_id, table = postgres_table
    with open_source(sql=f"SELECT id FROM {table}", sql_conn_id=conn_id, fetch_size=700, count_rows=True) as source:
        assert source.total == 5000
        assert sorted(row["id"] for _, row, _ in source) == list(range(1, 5001))


def test_postgres_values_keep_the_driver_types(postgres_table):
    conn_id, table = postgres_table
    [(ref, row, problem)] = rows_of(
        sql=f"SELECT external_id, created_at, amount, active FROM {table} WHERE id = %(id)s",
        parameters={"id": 2},
        sql_conn_id=conn_id,
    )
    assert (ref, problem) == (1, None)
    assert row == {
        "external_id": "u2",
        "created_at": datetime(2024, 1, 1, 0, 2),
        "amount": Decimal("0.50"),
        "active": True,
    }


def test_postgres_rows_from_a_dict_cursor_connection_are_the_same(postgres_table, monkeypatch):
    conn_id, table = postgres_table
    import os

    fields = json.loads(os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"])
    set_connection(monkeypatch, conn_id, **fields, extra={"cursor": "dictcursor"})
    rows = rows_of(sql=f"SELECT id, external_id FROM {table} WHERE id <= 2 ORDER BY id", sql_conn_id=conn_id)
    assert [(ref, dict(row)) for ref, row, _ in rows] == [
        (1, {"id": 1, "external_id": "u1"}),
        (2, {"id": 2, "external_id": "u2"}),
    ]


# -- records --------------------------------------------------------------------------------------


def test_records_are_yielded_in_order_as_they_are():
    records = [{"id": 1}, {"id": 2, "extra": [1]}]
    with open_source(records=records) as source:
        rows = list(source)
    assert rows == [(1, records[0], None), (2, records[1], None)]
    assert rows[0][1] is records[0]


def test_records_total_and_description_give_their_count():
    with open_source(records=[{"id": 1}] * 12) as source:
        assert (source.total, source.description) == (12, "12 records")


def test_empty_records_have_no_rows():
    assert rows_of(records=[]) == []


def test_records_as_json_text_are_parsed():
    assert rows_of(records='[{"id": 1}, {"id": 2}]') == [(1, {"id": 1}, None), (2, {"id": 2}, None)]


def test_records_as_python_text_are_parsed():
    # What a Jinja template renders for a list when native rendering is off.
    assert rows_of(records="[{'id': 1, 'vip': True}]") == [(1, {"id": 1, "vip": True}, None)]


def test_records_element_that_is_not_a_mapping_is_named_by_index():
    with pytest.raises(ValueError, match=r"records\[2\] is a str, not a mapping"):
        open_source(records=[{"id": 1}, {"id": 2}, "u3", 4])


def test_records_that_are_one_mapping_are_an_error():
    with pytest.raises(ValueError, match="records is a single mapping; give a list of mappings"):
        open_source(records={"id": 1})


def test_records_that_are_not_a_list_are_an_error():
    with pytest.raises(ValueError, match="records must be a list of mappings, got a generator; make a list of it"):
        open_source(records=({"id": i} for i in range(3)))


def test_records_text_that_is_not_a_list_is_an_error():
    with pytest.raises(ValueError, match="records is text that is not a JSON list of objects"):
        open_source(records="id,email\n1,a@x.com")


def test_sqlite_connection_on_a_fresh_database_file_reads_an_empty_table(tmp_path, monkeypatch):
    db = make_users_db(tmp_path / "empty.sqlite", 0)
    set_connection(monkeypatch, "braze_src_empty", conn_type="sqlite", host=str(db))
    with open_source(sql="SELECT * FROM users", sql_conn_id="braze_src_empty", count_rows=True) as source:
        assert source.total == 0
        assert list(source) == []


# -- drivers that buffer by default ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "expected_cursor"),
    [
        ("pymysql.connections", "SSCursor"),
        ("MySQLdb.connections", "SSCursor"),
        ("mysql.connector.connection_cext", "buffered=False"),
    ],
)
def test_mysql_drivers_get_an_unbuffered_cursor(sqlite_users, monkeypatch, module, expected_cursor):
    import sys
    import types

    from airflow.providers.sqlite.hooks.sqlite import SqliteHook

    root = module.split(".")[0]
    if root != "mysql":
        cursors = types.ModuleType(f"{root}.cursors")
        cursors.SSCursor = type("SSCursor", (), {})
        monkeypatch.setitem(sys.modules, f"{root}.cursors", cursors)
    asked = []

    def cursor(self, cursor_class=None, buffered=None):
        asked.append(cursor_class.__name__ if cursor_class else f"buffered={buffered}")
        return self.sqlite.cursor()

    # A stand-in for the MySQL driver's connection, answering with SQLite underneath.
    fake_connection = type("Connection", (), {"__module__": module, "cursor": cursor, "close": lambda self: None})
    real_get_conn = SqliteHook.get_conn

    def get_conn(hook):
        conn = fake_connection()
        conn.sqlite = real_get_conn(hook)
        return conn

    monkeypatch.setattr(SqliteHook, "get_conn", get_conn)
    with open_source(sql="SELECT external_id FROM users", sql_conn_id=sqlite_users) as source:
        assert len(list(source)) == 5
        assert source.cursor_kind == "unbuffered cursor"
    assert asked == [expected_cursor]
