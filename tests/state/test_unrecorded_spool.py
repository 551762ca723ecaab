"""The unrecorded spool file: written durably outside the store, elsewhere when a folder fails, read back checked."""

from __future__ import annotations

import json
import os

import pytest

from airflow_provider_braze.state.unrecorded_spool import (
    ACCEPTED,
    RELEASED,
    SpooledOutcome,
    SpoolHeader,
    SpoolWriter,
    UnrecordedSpoolError,
    folder_name,
    read_spool,
    spool_files,
    spool_roots,
)

HEADER = SpoolHeader("dag.events", 3, 12, 1, "/srv/braze_provider_state.db", "5be1c0ffee5be1c0", run_id="r1")


def event(n: int, outcome: str = ACCEPTED) -> SpooledOutcome:
    key = n.to_bytes(16, "big")
    return SpooledOutcome(outcome, key, str(n), key, at=1_000.0 + n)


def user(n: int) -> SpooledOutcome:
    return SpooledOutcome(ACCEPTED, b"u" * 16, str(n), None, b"d" * 16, b"\x81\xa4plan\x07", 2, 1_000.0)


def test_outcomes_are_read_back_as_written(tmp_path):
    writer = SpoolWriter(HEADER, roots=[tmp_path])
    assert writer.add([event(1), event(2, RELEASED), user(3)], "disk full")
    writer.close()

    (path,) = spool_files("dag.events", [tmp_path])
    spool = read_spool(path)
    assert path == tmp_path / "dag.events" / "12-1.jsonl" == writer.path
    assert spool.header.cause == "disk full" and spool.header.run_id == "r1"
    assert spool.outcomes == [event(1), event(2, RELEASED), user(3)]
    assert spool.counts() == {"accepted": 2, "rejected": 0, "released": 1}
    assert writer.kept == 3 and not writer.lost


def test_a_spool_holds_digests_and_row_numbers_only(tmp_path):
    writer = SpoolWriter(HEADER, roots=[tmp_path])
    writer.add([event(7), user(8)], "disk full")
    writer.close()
    lines = [json.loads(line) for line in writer.path.read_text().splitlines()[1:]]
    assert {key for line in lines for key in line} <= {
        "outcome",
        "row",
        "item",
        "key",
        "digest",
        "prints",
        "points",
        "at",
    }
    assert os.stat(writer.path).st_mode & 0o777 == 0o600


def test_a_folder_that_cannot_be_written_falls_back_to_the_next(tmp_path):
    (tmp_path / "full").write_text("")  # a file where the folder should be: nothing can be created under it
    writer = SpoolWriter(HEADER, roots=[tmp_path / "full", tmp_path / "fallback"])
    assert writer.add([event(1)], "disk full")
    writer.close()
    assert writer.path == tmp_path / "fallback" / "dag.events" / "12-1.jsonl"
    assert spool_files("dag.events", [tmp_path / "full", tmp_path / "fallback"]) == [writer.path]


def test_outcomes_that_fit_nowhere_are_counted_lost(tmp_path):
    (tmp_path / "full").write_text("")
    writer = SpoolWriter(HEADER, roots=[tmp_path / "full"])
    assert not writer.add([event(1), event(2)], "disk full")
    assert writer.lost == {"accepted": 2} and writer.kept == 0 and writer.path is None


def test_a_second_spool_of_the_same_attempt_gets_its_own_file(tmp_path):
    paths = []
    for n in range(2):
        writer = SpoolWriter(HEADER, roots=[tmp_path])
        writer.add([event(n)], "locked")
        writer.close()
        paths.append(writer.path)
    assert [p.name for p in paths] == ["12-1.jsonl", "12-1-1.jsonl"]


def test_a_line_cut_short_by_a_crash_is_ignored(tmp_path):
    writer = SpoolWriter(HEADER, roots=[tmp_path])
    writer.add([event(1), event(2)], "disk full")
    writer.close()
    with writer.path.open("a") as f:
        f.write('{"outcome": "accepted", "row": "3", "ke')
    spool = read_spool(writer.path)
    assert spool.torn and [o.row for o in spool.outcomes] == ["1", "2"]


def test_a_damaged_line_makes_the_spool_unreadable(tmp_path):
    writer = SpoolWriter(HEADER, roots=[tmp_path])
    writer.add([event(1), event(2)], "disk full")
    writer.close()
    lines = writer.path.read_text().splitlines()
    writer.path.write_text("\n".join([lines[0], "{not json", lines[2]]) + "\n")
    with pytest.raises(UnrecordedSpoolError, match=r"12-1.jsonl: line 2 is not an outcome"):
        read_spool(writer.path)


def test_a_file_that_is_not_a_spool_is_refused(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(UnrecordedSpoolError, match="the header line is not a spool's"):
        read_spool(path)


def test_sync_keys_become_safe_folder_names():
    assert folder_name("warehouse.app_events") == "warehouse.app_events"
    odd = folder_name("../etc/passwd key")
    assert "/" not in odd and not odd.startswith(".") and odd != folder_name("../etc/passwd_key")


def test_spools_live_under_airflow_home_then_the_temporary_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    assert spool_roots()[0] == tmp_path / "home" / "braze_sync_unrecorded"
    assert spool_roots()[1].name == "braze_sync_unrecorded"
