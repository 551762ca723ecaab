"""JSON Lines files: one object per line with JSON types, and every other line refused with its line."""

from __future__ import annotations

import gzip

import pytest

from airflow_provider_braze.sources import RAW_LINE
from tests.helpers.sources import rows_of, write


def test_json_lines_become_rows_with_json_types(tmp_path):
    text = '{"id": "u1", "score": 5, "vip": true, "tags": ["a"], "ratio": 0.5, "gone": null}\n{"id": "u2"}\n'
    rows = rows_of(path=str(write(tmp_path / "a.jsonl", text)))
    assert rows == [
        (1, {"id": "u1", "score": 5, "vip": True, "tags": ["a"], "ratio": 0.5, "gone": None}, None),
        (2, {"id": "u2"}, None),
    ]


def test_json_lines_invalid_line_is_reported_and_reading_goes_on(tmp_path):
    rows = rows_of(path=str(write(tmp_path / "a.jsonl", '{"id": 1}\n{"id": 2,\n{"id" 3}\n{"id": 4}\n')))
    assert rows == [
        (1, {"id": 1}, None),
        (
            2,
            {RAW_LINE: '{"id": 2,'},
            "line 2: not valid JSON (Expecting property name enclosed in double quotes at the end of the line)",
        ),
        (3, {RAW_LINE: '{"id" 3}'}, "line 3: not valid JSON (Expecting ':' delimiter at column 7)"),
        (4, {"id": 4}, None),
    ]


def test_json_lines_line_that_is_not_an_object_is_reported(tmp_path):
    rows = rows_of(path=str(write(tmp_path / "a.jsonl", '{"id": 1}\n"u2"\n42\n')))
    assert rows[1:] == [
        (2, {RAW_LINE: '"u2"'}, "line 2: a JSON string, not an object"),
        (3, {RAW_LINE: "42"}, "line 3: a JSON number, not an object"),
    ]


def test_json_lines_blank_lines_are_not_rows_but_count_as_lines(tmp_path):
    rows = rows_of(path=str(write(tmp_path / "a.jsonl", '\n{"id": 1}\r\n  \n[1]\n')))
    assert rows == [(1, {"id": 1}, None), (2, {RAW_LINE: "[1]"}, "line 4: a JSON array, not an object")]


@pytest.mark.parametrize("name", ["a.ndjson", "a.json", "a.JSONL", "a.ndjson.gz"])
def test_ndjson_and_json_extensions_are_json_lines(tmp_path, name):
    data = b'{"id": 1}\n{"id": 2}\n'
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert [row for _, row, _ in rows_of(path=str(path))] == [{"id": 1}, {"id": 2}]


def test_json_array_file_is_refused_with_a_clear_error(tmp_path):
    path = write(tmp_path / "users.json", '[\n  {"id": 1},\n  {"id": 2}\n]\n')
    with pytest.raises(ValueError, match="holds a JSON array, not JSON Lines"):
        rows_of(path=str(path))
