"""braze-sync-ledger: list, show, runs, settle and reset from the command line."""

from __future__ import annotations

import json

import pytest

from airflow_provider_braze.state.sync_ledger import BatchRecord, SyncLedgerStore
from airflow_provider_braze.state.sync_ledger_cli import main
from airflow_provider_braze.state.unrecorded_spool import SpooledOutcome, SpoolHeader, SpoolWriter, store_id


@pytest.fixture
def ledger_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = SyncLedgerStore(url)
    run = store.open_run("crm.events", endpoint="users/track", mode="events", run_id="r1")
    store.write_intents(run, [(bytes([i]) * 16, str(i)) for i in range(1, 4)])
    store.record(run, BatchRecord(accepted_keys=[bytes([1]) * 16], unknown_keys=[bytes([2]) * 16]))
    store.dispose()
    monkeypatch.setenv("LEDGER_URL", url)
    return url


def cli(capsys, *args: str) -> tuple[int, str]:
    code = main(["--state-url-env", "LEDGER_URL", *args])
    return code, capsys.readouterr().out


def test_list_show_and_runs(ledger_url, capsys):
    assert cli(capsys, "list") == (0, "crm.events\n")
    code, out = cli(capsys, "show", "crm.events")
    assert code == 0 and json.loads(out)["keys"] == {"accepted": 1, "sending": 1, "unknown": 1}
    code, out = cli(capsys, "runs", "crm.events")
    assert json.loads(out)["run_id"] == "r1"


def test_settle_delivered(ledger_url, capsys):
    assert cli(capsys, "settle", "crm.events", "--delivered") == (
        0,
        "2 rows of unknown outcome in 'crm.events' counted as delivered\n",
    )
    assert SyncLedgerStore(ledger_url).state("crm.events").keys == {"accepted": 3}


def test_reset_needs_confirmation(ledger_url, capsys):
    with pytest.raises(SystemExit):
        main(["--state-url-env", "LEDGER_URL", "reset", "crm.events"])
    assert "Add --yes to confirm" in capsys.readouterr().err
    assert cli(capsys, "reset", "crm.events", "--yes")[0] == 0
    assert SyncLedgerStore(ledger_url).state("crm.events") is None


def test_an_unknown_sync_is_an_error(ledger_url, capsys):
    assert main(["--state-url-env", "LEDGER_URL", "show", "nope"]) == 1


def write_spool(url: str, roots, outcomes) -> SpoolWriter:
    """The spool an attempt of a new run of ``crm.events`` writes when the store fails."""
    store = SyncLedgerStore(url)
    run = store.open_run("crm.events", endpoint="users/track", mode="events", run_id="r2")
    store.dispose()
    header = SpoolHeader("crm.events", run.sync_id, run.run, run.attempt, url, store_id(run.salt), run_id="r2")
    writer = SpoolWriter(header, roots)
    writer.add(outcomes, "disk full")
    writer.close()
    return writer


def delivered(n: int) -> SpooledOutcome:
    return SpooledOutcome("accepted", bytes([n]) * 16, str(n), bytes([n]) * 16, at=1.0)


def test_unrecorded_lists_a_sync_spools_and_their_rows(ledger_url, capsys):
    writer = write_spool(ledger_url, None, [delivered(2), delivered(3)])  # where exports write them
    code, out = cli(capsys, "unrecorded", "crm.events")
    (about,) = map(json.loads, out.splitlines())
    assert code == 0 and about["file"] == str(writer.path) and about["run_id"] == "r2"
    assert (about["cause"], about["accepted"], about["released"]) == ("disk full", 2, 0)
    code, out = cli(capsys, "unrecorded", "crm.events", "--rows")
    assert [(r["row"], r["outcome"]) for r in map(json.loads, out.splitlines())] == [
        ("2", "accepted"),
        ("3", "accepted"),
    ]


def test_replay_records_a_spool_brought_from_another_machine(ledger_url, capsys, tmp_path):
    writer = write_spool(ledger_url, [tmp_path / "elsewhere"], [delivered(2)])
    code, out = cli(capsys, "replay", str(writer.path))
    assert code == 0 and out == f"{writer.path}: replayed (1 accepted); removed\n"
    assert SyncLedgerStore(ledger_url).state("crm.events").keys == {"accepted": 2, "sending": 1}
    assert not writer.path.exists()


def test_replay_refuses_a_spool_of_another_store(ledger_url, capsys, tmp_path):
    writer = write_spool(f"sqlite:///{tmp_path / 'other.db'}", [tmp_path / "elsewhere"], [delivered(2)])
    assert main(["--state-url-env", "LEDGER_URL", "replay", str(writer.path)]) == 1
    assert "written for another state store" in capsys.readouterr().err and writer.path.exists()


def test_settle_refuses_while_a_spool_of_the_sync_cannot_be_read(ledger_url, capsys):
    writer = write_spool(ledger_url, None, [delivered(2)])
    writer.path.write_text("damaged\n")
    assert main(["--state-url-env", "LEDGER_URL", "settle", "crm.events", "--not-delivered"]) == 1
    assert f"not settled: unrecorded spool {writer.path}" in capsys.readouterr().err
    assert SyncLedgerStore(ledger_url).state("crm.events").keys == {"accepted": 1, "sending": 1, "unknown": 1}
