"""Files: the format from file_format or the extension, gzip, object storage, and closing."""

from __future__ import annotations

import gzip

import pytest

from airflow_provider_braze.sources import open_source
from tests.helpers.sources import CSV_TEXT, rows_of, write


def test_file_format_overrides_the_extension(tmp_path):
    path = write(tmp_path / "export.txt", '{"id": 1}\n')
    assert rows_of(path=str(path), file_format="jsonl") == [(1, {"id": 1}, None)]


def test_file_format_with_gz_decompresses(tmp_path):
    path = tmp_path / "export.bin"
    path.write_bytes(gzip.compress(CSV_TEXT.encode()))
    assert len(rows_of(path=str(path), file_format="csv.gz")) == 2


def test_unknown_file_format_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="file_format 'parquet' is not supported; use csv, tsv, jsonl, ndjson or json"):
        open_source(path=str(tmp_path / "a.csv"), file_format="parquet")


def test_path_without_a_known_extension_is_an_error():
    with pytest.raises(ValueError, match=r"cannot tell the format of '/data/export\.txt' from its extension"):
        open_source(path="/data/export.txt")


def test_password_in_a_url_stays_out_of_messages():
    with pytest.raises(ValueError) as caught:
        open_source(path="s3://key:s3cr3t@bucket/export.txt")
    assert "s3cr3t" not in str(caught.value)
    assert "s3://key@bucket/export.txt" in str(caught.value)


def test_missing_file_is_an_error_when_the_source_opens(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_source(path=str(tmp_path / "nowhere.csv"))


def test_file_url_is_read_through_object_storage(tmp_path):
    path = write(tmp_path / "users.csv", CSV_TEXT)
    with open_source(path=path.as_uri()) as source:
        assert source.description == f"file {path.as_uri()}"
        assert [row["external_id"] for _, row, _ in source] == ["u1", "u2"]


def test_gzipped_json_lines_in_object_storage_are_decompressed(tmp_path):
    path = tmp_path / "users.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"id": 1}\n{"id": 2}\n'))
    assert rows_of(path=path.as_uri()) == [(1, {"id": 1}, None), (2, {"id": 2}, None)]


def test_object_storage_path_is_accepted_as_path(tmp_path):
    from airflow.sdk import ObjectStoragePath

    path = write(tmp_path / "users.csv", CSV_TEXT)
    assert len(rows_of(path=ObjectStoragePath(path.as_uri()))) == 2


def test_file_closes_when_the_rows_run_out(tmp_path):
    source = open_source(path=str(write(tmp_path / "a.jsonl", '{"id": 1}\n')))
    list(source)
    with pytest.raises(RuntimeError, match="is closed"):
        iter(source)
