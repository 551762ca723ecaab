"""The bad-input corpus end to end: a hundred kinds, every mode, every source that can carry them.

With ``skip_on_invalid_records``: each kind sits between good rows, in records, JSON Lines, gzipped
JSON Lines, CSV and a SQL table (each kind in the sources that can hold its values); every bad row is
reported with its row number and the column the catalogue names, every good row arrives, and Braze
receives nothing else. Without it: the task stops at the first bad row and names it.
"""

from __future__ import annotations

import gzip
import json
import math
import sqlite3
from collections import Counter
from decimal import Decimal

import pytest

from airflow_provider_braze.braze.items import InvalidRecord
from airflow_provider_braze.operators import (
    BrazeDeleteUsersOperator,
    BrazeExportFailed,
    BrazeIdentifyUsersOperator,
    BrazeNewAliasOperator,
    BrazeTrackUsersOperator,
)
from airflow_provider_braze.records import get_builder
from tests.helpers.airflow import run
from tests.helpers.bad_inputs import BAD_INPUTS

GROUPS = sorted({(k.mode, k.record_type or "") for k in BAD_INPUTS})
SOURCES = ["records", "jsonl", "jsonl.gz", "csv", "sql"]


def good_row(mode: str, record_type: str, n: int) -> dict:
    if record_type == "attributes":
        return {"external_id": f"g{n}", "plan": "pro"}
    if record_type == "events":
        return {"external_id": f"g{n}", "name": "signup", "time": "2024-05-01T13:45:00Z"}
    if record_type == "purchases":
        return {
            "external_id": f"g{n}",
            "product_id": "sku-1",
            "currency": "USD",
            "price": "9.99",
            "time": "2024-05-01T13:45:00Z",
        }
    if mode == "new_alias":
        return {"alias_name": f"g{n}", "alias_label": "crm"}
    if mode == "identify":
        return {"external_id": f"g{n}", "alias_name": f"ga{n}", "alias_label": "crm"}
    return {"external_id": f"g{n}"}


def operator(mode: str, record_type: str, **kwargs):
    if mode == "track":
        return BrazeTrackUsersOperator(task_id="t", record_type=record_type, **kwargs)
    kind = {
        "new_alias": BrazeNewAliasOperator,
        "identify": BrazeIdentifyUsersOperator,
        "delete": BrazeDeleteUsersOperator,
    }
    return kind[mode](task_id="t", **kwargs)


def _unicode(value) -> bool:
    """Text a file or a database can hold (a lone surrogate exists only inside Python and JSON escapes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_only(value) -> bool:
    return value is None or (isinstance(value, str) and "\n" not in value and "\r" not in value and _unicode(value))


def _clean_name(name: str) -> bool:
    return name.isprintable() and name.encode("utf-8", "surrogatepass").decode("utf-8", "ignore") == name


def carries(source: str, row: dict) -> bool:
    """Whether a source can hold this row's values as they are."""
    if source == "records":
        return True
    if not all(_clean_name(name) for name in row):
        return source.startswith("jsonl")
    if source.startswith("jsonl"):
        try:
            json.dumps(row)
        except (TypeError, ValueError):
            return False
        return True
    if source == "csv":
        return all(_text_only(v) for v in row.values())
    # SQLite: text, 64-bit integers, finite floats (it stores NaN as NULL), NULL.
    return all(
        v is None
        or (isinstance(v, float) and math.isfinite(v))
        or (isinstance(v, str) and _unicode(v))
        or (isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63)
        for v in row.values()
    )


def source_arguments(source: str, rows: list[dict], tmp_path, monkeypatch) -> dict:
    if source == "records":
        return {"records": rows}
    columns = list(dict.fromkeys(c for row in rows for c in row))
    if source.startswith("jsonl"):
        text = "".join(json.dumps(row) + "\n" for row in rows)  # escapes lone surrogates as \\udxxx
        path = tmp_path / f"rows.{source}"
        path.write_bytes(gzip.compress(text.encode()) if source.endswith(".gz") else text.encode())
        return {"path": str(path)}
    if source == "csv":
        import csv

        path = tmp_path / "rows.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            writer.writerows([[row.get(c) or "" for c in columns] for row in rows])
        return {"path": str(path)}
    db = tmp_path / "rows.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"create table rows ({', '.join(json.dumps(c) for c in columns)})")
        conn.executemany(
            f"insert into rows values ({', '.join('?' * len(columns))})",
            [[row.get(c) for c in columns] for row in rows],
        )
    monkeypatch.setenv("AIRFLOW_CONN_CORPUS", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    return {"sql": "select * from rows order by rowid", "sql_conn_id": "corpus"}


def seed(sandbox, mode: str, goods: list[dict]) -> None:
    """Identify needs the alias-only users its good rows name."""
    if mode == "identify":
        run(
            BrazeNewAliasOperator(
                task_id="seed",
                records=[{"alias_name": g["alias_name"], "alias_label": "crm"} for g in goods],
                sync_ledger=False,
            )
        )
        sandbox.requests.clear()


def test_the_corpus_holds_a_hundred_kinds_across_every_mode():
    kinds = {k.kind for k in BAD_INPUTS}
    assert len(kinds) == len(BAD_INPUTS) >= 100
    assert {m for m, _ in GROUPS} == {"track", "new_alias", "identify", "delete"}


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("mode", "record_type"), GROUPS, ids=[f"{m}-{r}" if r else m for m, r in GROUPS])
def test_with_skip_every_bad_row_is_named_and_every_good_row_arrives(
    sandbox, braze_conn, tmp_path, monkeypatch, mode, record_type, source
):
    kinds = [k for k in BAD_INPUTS if (k.mode, k.record_type or "") == (mode, record_type) and carries(source, k.row)]
    assert kinds, f"no {mode} kind is expressible in {source}"
    rows, bad_at, goods = [], {}, []
    for n, kind in enumerate(kinds):
        goods.append(good_row(mode, record_type, n))
        rows.append(goods[-1])
        rows.append(dict(kind.row))
        bad_at[len(rows)] = kind
    seed(sandbox, mode, goods)
    rejected = tmp_path / "rejected.jsonl"

    summary = run(
        operator(
            mode,
            record_type,
            skip_on_invalid_records=True,
            rejected_records_path=str(rejected),
            **source_arguments(source, rows, tmp_path, monkeypatch),
        )
    )

    reported = {r["row"]: r for r in map(json.loads, rejected.read_text().splitlines())}
    assert set(reported) == set(bad_at), f"{source}: reported {sorted(reported)}, expected {sorted(bad_at)}"
    for row, kind in bad_at.items():
        assert reported[row]["column"] == kind.expected_column, kind.kind
        assert reported[row]["reason"] and reported[row]["stage"] == "validation", kind.kind
        if source == "records":  # the reason is the builder's, word for word
            built = get_builder(mode, record_type or None).build(dict(kind.row), row)
            assert isinstance(built, InvalidRecord) and reported[row]["reason"] == built.reason, kind.kind
    # Every good row arrived, and nothing else reached Braze.
    assert (summary["accepted"], summary["skipped"], summary["rejected"]) == (len(goods), len(kinds), 0)
    assert sum(r.objects for r in sandbox.requests.records()) == len(goods)
    print(
        f"\n{mode} {record_type} via {source}: {len(kinds)} bad kinds refused, {len(goods)} good rows accepted, lost 0"
    )


@pytest.mark.parametrize("kind", BAD_INPUTS, ids=[k.kind for k in BAD_INPUTS])
def test_without_skip_the_first_bad_row_is_named(sandbox, braze_conn, kind):
    mode, record_type = kind.mode, kind.record_type or ""
    goods = [good_row(mode, record_type, n) for n in range(2)]
    seed(sandbox, mode, goods)
    with pytest.raises(BrazeExportFailed) as info:
        run(operator(mode, record_type, records=[goods[0], dict(kind.row), goods[1]]))
    message = str(info.value)
    assert message.startswith("Stopped at row 2"), message
    if kind.expected_column is not None:
        assert f"column {kind.expected_column!r}" in message
    # Rows before it were sent; nothing from it or after it.
    assert sum(r.objects for r in sandbox.requests.records()) == 1


def test_the_corpus_reaches_every_source():
    reach = Counter(source for k in BAD_INPUTS for source in SOURCES if carries(source, k.row))
    assert reach["records"] == len(BAD_INPUTS) and all(reach[s] >= 50 for s in SOURCES), reach
    assert any(isinstance(v, Decimal) for k in BAD_INPUTS for v in k.row.values())  # a SQL-only type
