"""CSV and TSV files: rows keyed by the header, and every record that cannot become a row refused with its line."""

from __future__ import annotations

import gzip

import pytest

from airflow_provider_braze.sources import EXTRA_FIELDS, RAW_LINE, open_source
from tests.helpers.sources import CSV_TEXT, rows_of, write


def test_csv_header_names_the_columns_and_values_are_text(tmp_path):
    rows = rows_of(path=str(write(tmp_path / "users.csv", CSV_TEXT)))
    assert rows == [
        (1, {"external_id": "u1", "email": "a@example.com", "score": "10"}, None),
        (2, {"external_id": "u2", "email": "b@example.com", "score": "20"}, None),
    ]


def test_csv_quoted_fields_keep_delimiters_quotes_and_line_breaks(tmp_path):
    text = 'id,note\n1,"a, b"\n2,"say ""hi"""\n3,"two\r\nlines"\n'
    rows = rows_of(path=str(write(tmp_path / "q.csv", text)))
    assert [row["note"] for _, row, _ in rows] == ["a, b", 'say "hi"', "two\r\nlines"]


def test_csv_options_set_the_delimiter_and_quote(tmp_path):
    rows = rows_of(
        path=str(write(tmp_path / "s.csv", "id;note\n1;'x;y'\n")), csv_options={"delimiter": ";", "quotechar": "'"}
    )
    assert rows == [(1, {"id": "1", "note": "x;y"}, None)]


def test_tsv_files_are_tab_separated(tmp_path):
    rows = rows_of(path=str(write(tmp_path / "users.tsv", "id\tnote\n1\ta,b\n")))
    assert rows == [(1, {"id": "1", "note": "a,b"}, None)]


def test_csv_gz_is_decompressed_while_reading(tmp_path):
    path = tmp_path / "users.csv.gz"
    path.write_bytes(gzip.compress(CSV_TEXT.encode()))
    assert [row["external_id"] for _, row, _ in rows_of(path=str(path))] == ["u1", "u2"]


def test_csv_row_with_too_few_fields_is_reported_and_reading_goes_on(tmp_path):
    rows = rows_of(path=str(write(tmp_path / "r.csv", "id,email,score\n1,a@x.com,5\n2\n3,c@x.com,7\n")))
    assert rows == [
        (1, {"id": "1", "email": "a@x.com", "score": "5"}, None),
        (2, {"id": "2"}, "line 3: 1 fields where the header has 3 (email, score missing)"),
        (3, {"id": "3", "email": "c@x.com", "score": "7"}, None),
    ]


def test_csv_row_with_too_many_fields_keeps_the_extra_fields(tmp_path):
    rows = rows_of(path=str(write(tmp_path / "r.csv", "id,email\n1,a@x.com,oops,again\n")))
    assert rows == [
        (1, {"id": "1", "email": "a@x.com", EXTRA_FIELDS: ["oops", "again"]}, "line 2: 4 fields where the header has 2")
    ]


def test_csv_blank_lines_are_not_rows(tmp_path):
    rows = rows_of(path=str(write(tmp_path / "b.csv", "id\n\n1\n\n\n2\n")))
    assert rows == [(1, {"id": "1"}, None), (2, {"id": "2"}, None)]


def test_csv_byte_order_mark_is_dropped(tmp_path):
    rows = rows_of(path=str(write(tmp_path / "bom.csv", b"\xef\xbb\xbfid,email\n1,a@x.com\n")))
    assert rows == [(1, {"id": "1", "email": "a@x.com"}, None)]


def test_csv_fieldnames_option_reads_a_file_without_header(tmp_path):
    rows = rows_of(path=str(write(tmp_path / "h.csv", "u1,5\nu2,6\n")), csv_options={"fieldnames": ["id", "score"]})
    assert rows == [(1, {"id": "u1", "score": "5"}, None), (2, {"id": "u2", "score": "6"}, None)]


def test_csv_encoding_option_reads_other_encodings(tmp_path):
    rows = rows_of(
        path=str(write(tmp_path / "l.csv", "name\nJosé\n".encode("latin-1"))), csv_options={"encoding": "latin-1"}
    )
    assert rows == [(1, {"name": "José"}, None)]


def test_csv_row_that_is_not_utf8_is_refused_naming_line_column_and_byte(tmp_path):
    path = write(tmp_path / "l.csv", "id,name\n1,Ada\n2,José\n3,Bob\n".encode().replace("é".encode(), b"\xe9"))
    rows = rows_of(path=str(path))
    assert [r[0] for r in rows] == [1, 2, 3] and rows[0][2] is None and rows[2] == (3, {"id": "3", "name": "Bob"}, None)
    assert rows[1][2] == (
        "line 3, column name: byte 0xE9 is not UTF-8 text; if the file is in another encoding, "
        "pass it as encoding= (latin-1, cp1252 ...)"
    )


def test_csv_header_that_is_not_utf8_is_an_error(tmp_path):
    path = write(tmp_path / "l.csv", b"id,n\xe9\n1,2\n")
    with pytest.raises(ValueError, match=r"l\.csv, the header: line 1: byte 0xE9 is not UTF-8 text"):
        rows_of(path=str(path))


def test_csv_broken_quoting_refuses_the_line_and_reads_on(tmp_path):
    path = write(tmp_path / "bad.csv", 'id,note\n1,ok\n2,"bad"x\n3,fine\n')
    rows = rows_of(path=str(path))
    assert rows[0] == (1, {"id": "1", "note": "ok"}, None) and rows[2] == (3, {"id": "3", "note": "fine"}, None)
    assert rows[1] == (
        2,
        {RAW_LINE: '2,"bad"x'},
        "line 3, column note: not valid CSV (',' expected after '\"'); "
        "the lines after it are read as rows of their own",
    )


def test_empty_csv_file_has_no_rows(tmp_path):
    assert rows_of(path=str(write(tmp_path / "empty.csv", ""))) == []


def test_csv_header_naming_a_column_twice_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="more than one column named 'id'"):
        open_source(path=str(write(tmp_path / "d.csv", "id,email,id\n1,a,2\n")))


def test_unknown_csv_option_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"csv_options \['separator'\] are not known"):
        open_source(path=str(write(tmp_path / "a.csv", CSV_TEXT)), csv_options={"separator": ";"})


def test_csv_options_for_a_json_lines_file_are_an_error(tmp_path):
    with pytest.raises(ValueError, match="csv_options apply to CSV files only"):
        open_source(path=str(write(tmp_path / "a.jsonl", "{}\n")), csv_options={"delimiter": ";"})
