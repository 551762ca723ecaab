"""braze-sync-ledger: list, show, runs, settle and reset from the command line."""

from __future__ import annotations

import json

import pytest

from airflow_provider_braze.state.sync_ledger import BatchRecord, SyncLedgerStore
from airflow_provider_braze.state.sync_ledger_cli import main


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
