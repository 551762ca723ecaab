"""The sync history pages, as a person logged in to Airflow sees them, over a ledger filled by real exports."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from airflow_provider_braze.braze.errors import BrazeError
from airflow_provider_braze.hooks.state import sync_ledger_store
from airflow_provider_braze.state.sync_history import SyncHistory
from airflow_provider_braze.ui.store import history
from tests.helpers.ui import CUSTOMERS, export


def text_of(html: str) -> str:
    """The page's text as a person reads it: tags dropped, whitespace collapsed."""
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def run_ids(sync_key: str) -> dict[str, int]:
    store: SyncHistory = history()
    return {run.run_id: run.id for run in store.runs(store.sync(sync_key).id)}


def row_of(html: str, table: str, first_cell: str) -> str:
    """The text of the row of ``table`` whose first cell starts with ``first_cell``."""
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    rows = [text_of(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL)]
    return next(r for r in rows if r.startswith(first_cell))


def test_the_syncs_page_lists_every_sync_with_its_last_run_and_health(client, ledger):
    page = client.get("/braze/syncs")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    customers = row_of(page.text, "syncs", "warehouse.customers")
    purchases = row_of(page.text, "syncs", "warehouse.purchases")
    assert "attributes /users/track 2" in customers and "success" in customers and "healthy" in customers
    assert "purchases /users/track 1" in purchases and "warning 2 refused" in purchases


def test_an_empty_ledger_says_so_and_creates_no_store(client, own_state_store):
    page = client.get("/braze/syncs")

    assert page.status_code == 200 and "holds no sync yet" in page.text
    assert not (own_state_store / "braze_provider_state.db").exists()


def test_a_run_that_broke_off_makes_the_sync_failed(client, sandbox, braze_conn):
    braze_conn(password="a-key-braze-does-not-know")  # every request answers 401: the run stops
    with pytest.raises(BrazeError):
        export("run-1", task_id="t", sync_key="broken", records=CUSTOMERS)

    row = row_of(client.get("/braze/syncs").text, "syncs", "broken")
    assert re.search(r"attributes /users/track 1 .* UTC failed failed$", row), row


def test_a_sync_page_shows_each_run_newest_first_with_its_counts(client, ledger):
    page = client.get("/braze/syncs/warehouse.customers")

    assert page.status_code == 200
    rows = page.text.split('id="runs"', 1)[1]
    assert rows.index("scheduled__2026-11-21") < rows.index("scheduled__2026-11-20")
    first = row_of(page.text, "runs", "scheduled__2026-11-20")
    second = row_of(page.text, "runs", "scheduled__2026-11-21")
    # Read, sent, accepted, unchanged, refused, unknown, data points spent and saved.
    assert re.search(r"success 5 3 3 0 2 0 4 0 ", first), first
    assert re.search(r"success 3 0 0 3 0 0 0 4 ", second), second
    assert re.search(r"\d+\.\d s [\d,]+$", first)  # duration and rows/s


def test_a_sync_page_draws_throughput_and_outcomes_as_inline_svg(client, ledger):
    page = client.get("/braze/syncs/warehouse.customers").text

    assert (
        page.count("<svg") == 2
        and "<script" not in page
        and "http" not in page.split("<svg", 1)[1].replace("http://www.w3.org/2000/svg", "")
    )
    assert "scheduled__2026-11-20: 3 accepted" in page and "scheduled__2026-11-21: 3 unchanged" in page
    assert re.search(r"scheduled__2026-11-20: [\d,]+ rows/s", page)


def test_figures_a_summary_does_not_hold_show_as_a_dash(client, tmp_path):
    store = sync_ledger_store(None)
    run = store.open_run("older.release", endpoint="users/track", mode="attributes", run_id="r1")
    store.finish_run(run, "success", {"rows_read": 10, "accepted": 10})
    store.dispose()

    row = row_of(client.get("/braze/syncs/older.release").text, "runs", "r1")
    assert row.startswith("r1") and "success 10 — 10 — — — — — —" in row


def test_a_run_page_lists_the_refused_rows_with_row_column_and_reason(client, ledger):
    run = run_ids("warehouse.customers")["scheduled__2026-11-20"]
    page = client.get(f"/braze/syncs/warehouse.customers/runs/{run}")

    assert page.status_code == 200
    assert row_of(page.text, "problems", "2") == (
        "2 refused: invalid dob dob 'not a date' is not a date in the form YYYY-MM-DD open"
    )
    assert re.search(r"\b5 3 3 0 2 \(2 \+ 0\) 0 0 4 0\b", text_of(page.text.split('id="figures"')[1]))


def test_rows_braze_rejected_show_with_braze_s_reason(client, ledger):
    run = run_ids("warehouse.purchases")["scheduled__2026-11-21"]
    page = client.get(f"/braze/syncs/warehouse.purchases/runs/{run}").text

    assert row_of(page, "problems", "3") == "3 refused by Braze — workspace already holds 2 product IDs open"
    assert row_of(page, "problems", "4").startswith("4 refused by Braze")


def test_reasons_are_masked_unless_revealed(client, ledger):
    run = run_ids("warehouse.customers")["scheduled__2026-11-20"]
    masked = client.get(f"/braze/syncs/warehouse.customers/runs/{run}").text
    revealed = client.get(f"/braze/syncs/warehouse.customers/runs/{run}?reveal=1").text

    assert "ana.lopez@example.com" not in masked and "an***@example.com" in row_of(masked, "problems", "4")
    assert "ana.lopez@example.com" in row_of(revealed, "problems", "4")


def test_searching_by_identifier_finds_that_user_s_rows_only(client, ledger):
    run = run_ids("warehouse.customers")["scheduled__2026-11-20"]
    url = f"/braze/syncs/warehouse.customers/runs/{run}"

    hit = client.post(url, data={"identifier": "u-2"}).text
    prefixed = client.post(url, data={"identifier": "external_id:u-4"}).text
    miss = client.post(url, data={"identifier": "u-3"}).text

    assert "1 row of this run filed under that identifier" in hit
    assert row_of(hit, "problems", "2").startswith("2 refused: invalid dob") and "not a date in" in hit
    assert "u-4" not in text_of(hit.split('id="problems"')[1]) and "example.com" not in hit
    assert row_of(prefixed, "problems", "4").startswith("4 refused: invalid dob")
    assert "No row of this run was filed under that identifier" in miss and 'id="problems"' not in miss


def test_the_search_form_exports_its_rows_as_csv(client, ledger):
    run = run_ids("warehouse.customers")["scheduled__2026-11-20"]
    answer = client.post(f"/braze/syncs/warehouse.customers/runs/{run}", data={"identifier": "u-2", "format": "csv"})

    assert answer.headers["content-type"].startswith("text/csv")
    lines = answer.text.splitlines()
    assert len(lines) == 2 and lines[1].startswith(
        "warehouse.customers,scheduled__2026-11-20,-1,2,refused: invalid,dob,"
    )


def test_text_from_the_ledger_is_escaped(client, sandbox, braze_conn):
    export(
        "<b>run</b>",
        task_id="t",
        sync_key="<script>alert(1)</script>",
        records=[{"external_id": "x", "dob": "<img src=x onerror=alert(2)>"}],
    )
    run = run_ids("<script>alert(1)</script>")["<b>run</b>"]

    pages = [
        client.get("/braze/syncs").text,
        client.get("/braze/syncs/%3Cscript%3Ealert(1)%3C%2Fscript%3E").text,
        client.get(f"/braze/syncs/%3Cscript%3Ealert(1)%3C%2Fscript%3E/runs/{run}").text,
    ]
    for page in pages:
        assert "<script>alert(1)" not in page and "<b>run" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "&lt;img src=x onerror=alert(2)&gt;" in pages[2]


def test_the_extra_link_s_address_leads_to_the_task_s_run(client, ledger):
    run = run_ids("warehouse.customers")["scheduled__2026-11-21"]
    answer = client.get(
        "/braze/syncs/warehouse.customers/task-run?run_id=scheduled__2026-11-21", follow_redirects=False
    )
    missing = client.get("/braze/syncs/warehouse.customers/task-run?run_id=manual__never")

    assert answer.status_code == 307 and answer.headers["location"] == f"/braze/syncs/warehouse.customers/runs/{run}"
    assert missing.status_code == 404 and "No ledger run for this task" in missing.text


def test_an_unknown_sync_or_run_is_a_page_saying_so(client, ledger):
    sync = client.get("/braze/syncs/no.such.sync")
    run = client.get("/braze/syncs/warehouse.customers/runs/999")

    assert sync.status_code == 404 and "no sync &#39;no.such.sync&#39; in the sync ledger" in sync.text
    assert run.status_code == 404 and "no run 999 of sync" in run.text
