"""The sync history's JSON API, as a script with a bearer token sees it."""

from __future__ import annotations

import csv
import io

from tests.ui.test_views import run_ids


def test_the_syncs_list_gives_each_sync_its_last_run_figures_and_health(api, ledger):
    syncs = {s["sync_key"]: s for s in api.get("/braze/api/syncs").json()["syncs"]}

    assert set(syncs) == {"warehouse.customers", "warehouse.purchases"}
    customers = syncs["warehouse.customers"]
    assert (customers["mode"], customers["endpoint"], customers["run_count"], customers["health"]) == (
        "attributes",
        "users/track",
        2,
        "healthy",
    )
    assert customers["last_run"]["run_id"] == "scheduled__2026-11-21"
    assert (
        customers["last_run"]["figures"]["unchanged"] == 3
        and customers["last_run"]["figures"]["data_points_saved"] == 4
    )
    assert syncs["warehouse.purchases"]["health"] == "warning"
    assert syncs["warehouse.purchases"]["last_run"]["figures"]["refused"] == 2


def test_a_sync_s_runs_come_newest_first_with_their_summaries(api, ledger):
    body = api.get("/braze/api/syncs/warehouse.customers/runs").json()

    assert [r["run_id"] for r in body["runs"]] == ["scheduled__2026-11-21", "scheduled__2026-11-20"]
    first = body["runs"][1]
    assert first["summary"]["rows_read"] == 5 and first["figures"]["refused"] == 2 and first["status"] == "success"
    assert first["started_at"].endswith("+00:00") and first["figures"]["rows_per_second"] > 0


def test_a_run_s_problems_carry_row_column_and_masked_reason(api, ledger):
    run = run_ids("warehouse.customers")["scheduled__2026-11-20"]
    body = api.get(f"/braze/api/syncs/warehouse.customers/runs/{run}/problems").json()

    assert body["total"] == 2
    assert [(p["row"], p["status"], p["column"]) for p in body["problems"]] == [
        ("2", "invalid", "dob"),
        ("4", "invalid", "dob"),
    ]
    assert body["problems"][1]["reason"] == "dob 'an***@example.com' is not a date in the form YYYY-MM-DD"
    revealed = api.get(f"/braze/api/syncs/warehouse.customers/runs/{run}/problems?reveal=true").json()
    assert "ana.lopez@example.com" in revealed["problems"][1]["reason"]


def test_the_identifier_filter_finds_a_user_s_rows_by_digest(api, ledger):
    run = run_ids("warehouse.customers")["scheduled__2026-11-20"]
    url = f"/braze/api/syncs/warehouse.customers/runs/{run}/problems"

    assert [p["row"] for p in api.get(url, params={"identifier": "u-4"}).json()["problems"]] == ["4"]
    assert api.get(url, params={"identifier": "u-1"}).json()["problems"] == []
    assert api.get(url, params={"identifier": "email:u-4"}).json()["problems"] == []


def test_problems_as_csv_hold_every_row_with_its_reason(api, ledger):
    run = run_ids("warehouse.purchases")["scheduled__2026-11-21"]
    answer = api.get(f"/braze/api/syncs/warehouse.purchases/runs/{run}/problems", params={"format": "csv"})

    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["row"], r["outcome"], r["reason"], r["later"]) for r in rows] == [
        ("3", "refused by Braze", "workspace already holds 2 product IDs", "open"),
        ("4", "refused by Braze", "workspace already holds 2 product IDs", "open"),
    ]


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_quoted(api, sandbox, braze_conn):
    from tests.helpers.ui import export

    export("r1", task_id="t", sync_key="formulas", records=[{"external_id": "x", "dob": "=HYPERLINK(1)"}])
    run = run_ids("formulas")["r1"]
    answer = api.get(f"/braze/api/syncs/formulas/runs/{run}/problems", params={"format": "csv"})

    reason = next(csv.DictReader(io.StringIO(answer.text)))["reason"]
    assert reason.startswith("dob '=HYPERLINK(1)'")  # quoted inside the reason: no formula
    assert not any(cell.startswith("=") for cell in answer.text.splitlines()[1].split(","))


def test_unknown_syncs_and_runs_are_404_in_json(api, ledger):
    assert api.get("/braze/api/syncs/nope").status_code == 404
    answer = api.get("/braze/api/syncs/warehouse.customers/runs/999/problems")
    assert answer.status_code == 404 and answer.json() == {"detail": "no run 999 of sync 'warehouse.customers'"}
