"""The inputs of the hardening issue's table, one test each, end to end against the sandbox.

Each bad row sits among good rows; with ``skip_on_invalid_records`` the good rows must all arrive,
the bad one must be reported with its row, column and reason, and nothing invalid may reach Braze.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_braze.operators import (
    BrazeDeleteUsersOperator,
    BrazeExportFailed,
    BrazeTrackUsersOperator,
)
from tests.helpers.airflow import run


def export_skipping(rejected: Path, **arguments: Any) -> dict[str, Any]:
    """Run a track export that skips invalid rows and writes them to ``rejected``; its summary."""
    operator = BrazeTrackUsersOperator(
        task_id="t", skip_on_invalid_records=True, rejected_records_path=str(rejected), **arguments
    )
    return run(operator)


def rejected_rows(path) -> dict[int, dict]:
    """The rejected-records file by row number."""
    return {line["row"]: line for line in map(json.loads, path.read_text().splitlines())}


def held(sandbox) -> dict[str, dict]:
    return {u.external_id: u.custom_attributes for u in sandbox.store.users()}


def test_a_lone_surrogate_in_json_lines(sandbox, braze_conn, tmp_path):
    # JSON text may escape a lone surrogate; json.loads gives a str that is not Unicode text.
    source = tmp_path / "users.jsonl"
    lines = [json.dumps({"external_id": f"u{i}", "plan": "pro"}) for i in range(1, 6)]
    lines.insert(2, '{"external_id": "bad", "plan": "pro\\ud800"}')
    source.write_text("\n".join(lines) + "\n")
    rejected = tmp_path / "rejected.jsonl"

    summary = export_skipping(rejected, path=str(source))

    assert held(sandbox) == {f"u{i}": {"plan": "pro"} for i in range(1, 6)}
    assert (summary["accepted"], summary["skipped"]) == (5, 1)
    (bad,) = rejected_rows(rejected).values()
    assert (bad["row"], bad["column"]) == (3, "plan")
    assert bad["reason"] == (
        "plan holds a lone surrogate (U+D800 to U+DFFF), which is not Unicode text; "
        "the source was decoded or escaped wrongly"
    )


def test_a_lone_surrogate_in_records_without_skip_names_the_row(sandbox, braze_conn):
    records = [{"external_id": "u1", "plan": "pro"}, {"external_id": "u\udfff", "plan": "pro"}]
    with pytest.raises(BrazeExportFailed, match=r"Stopped at row 2.*column 'external_id'.*lone surrogate"):
        run(BrazeTrackUsersOperator(task_id="t", records=records))
    assert held(sandbox) == {"u1": {"plan": "pro"}}


def test_price_1e400(sandbox, braze_conn, tmp_path):
    purchase = {"external_id": "u1", "product_id": "sku", "currency": "USD", "time": "2026-11-30T10:00:00Z"}
    records = [{**purchase, "price": "9.99"}, {**purchase, "price": "1e400"}, {**purchase, "price": "1.5"}]
    rejected = tmp_path / "rejected.jsonl"

    summary = export_skipping(rejected, record_type="purchases", records=records)

    assert sorted(p["price"] for p in sandbox.store.purchases()) == [1.5, 9.99]
    assert (summary["accepted"], summary["skipped"]) == (2, 1)
    bad = rejected_rows(rejected)[2]
    assert (
        bad["column"] == "price"
        and bad["reason"] == "price 1E+400 is beyond the 64-bit integer range (±9,223,372,036,854,775,807)"
    )


@pytest.mark.parametrize(
    ("record_type", "row", "column"),
    [
        ("attributes", {"external_id": "u\x00x", "plan": "pro"}, "external_id"),
        ("attributes", {"external_id": "nul", "plan": "pro\x00"}, "plan"),
        ("events", {"external_id": "nul", "name": "signed\x00up", "time": "2026-11-30T10:00:00Z"}, "name"),
        ("events", {"external_id": "nul", "name": "signup", "time": "2026-11-30T10:00:00Z", "note": "a\x00"}, "note"),
    ],
    ids=["identifier", "value", "event name", "event property"],
)
def test_nul_bytes_in_an_identifier_a_value_or_an_event_name(sandbox, braze_conn, tmp_path, record_type, row, column):
    good = [
        {"external_id": f"good{i}", "plan": "pro"}
        if record_type == "attributes"
        else {"external_id": f"good{i}", "name": "signup", "time": "2026-11-30T10:00:00Z"}
        for i in (1, 2)
    ]
    rejected = tmp_path / "rejected.jsonl"

    summary = export_skipping(rejected, record_type=record_type, records=[good[0], row, good[1]])

    assert (summary["accepted"], summary["skipped"]) == (2, 1)
    bad = rejected_rows(rejected)[2]
    assert bad["column"] == column and "holds a NUL character" in bad["reason"]
    assert sorted(u.external_id for u in sandbox.store.users()) == ["good1", "good2"]


@pytest.mark.parametrize(
    ("record_type", "row", "column", "reason"),
    [
        (
            "attributes",
            {"external_id": "big", "score": 2**80},
            "score",
            "score 12089258...(25 digits) is beyond the 64-bit integer range (±9,223,372,036,854,775,807)",
        ),
        (
            "attributes",
            {"external_id": "big", "visits": {"inc": 2**70}},
            "visits",
            "visits has inc 1180591620717411303424, beyond the 64-bit integer range (±9,223,372,036,854,775,807)",
        ),
        (
            "events",
            {"external_id": "big", "name": "e", "time": "2026-11-30T10:00:00Z", "properties": {"n": 10**30}},
            "properties",
            None,
        ),
    ],
    ids=["attribute 2**80", "inc 2**70", "property 10**30"],
)
def test_integers_beyond_64_bits(sandbox, braze_conn, tmp_path, record_type, row, column, reason):
    good = (
        {"external_id": "good", "score": 2**63 - 1}
        if record_type == "attributes"
        else {"external_id": "good", "name": "e", "time": "2026-11-30T10:00:00Z", "properties": {"n": -(2**63)}}
    )
    rejected = tmp_path / "rejected.jsonl"

    summary = export_skipping(rejected, record_type=record_type, records=[row, good])

    assert (summary["accepted"], summary["skipped"]) == (1, 1)
    bad = rejected_rows(rejected)[1]
    assert bad["column"] == column
    assert bad["reason"] == reason if reason else "beyond the 64-bit integer range" in bad["reason"]
    if record_type == "attributes":
        assert held(sandbox) == {"good": {"score": 2**63 - 1}}
    else:
        assert [e["properties"] for e in sandbox.store.events()] == [{"n": -(2**63)}]


def test_delete_by_phone(sandbox, braze_conn):
    run(
        BrazeTrackUsersOperator(
            task_id="a",
            records=[
                {"phone": "+14155550100", "plan": "a"},
                {"phone": "+14155550199", "plan": "b"},
            ],
        )
    )
    summary = run(BrazeDeleteUsersOperator(task_id="t", records=[{"phone": "+14155550100"}]))

    assert summary["accepted"] == 1 and summary["rejected"] == 0
    # The sandbox refuses phone_numbers items that are not {"phone", "prioritization"}, as Braze's page says.
    assert [u.phone for u in sandbox.store.users()] == ["+14155550199"]
    assert [d["phone"] for d in sandbox.store.deleted()] == ["+14155550100"]


def users_csv(count: int, *, broken: dict[int, str] | None = None) -> str:
    """A CSV of ``count`` users (row n is user ``u{n}``); ``broken`` replaces whole lines by row number."""
    lines = ["external_id,plan"] + [f"u{n},pro" for n in range(1, count + 1)]
    for row, text in (broken or {}).items():
        lines[row] = text
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("line", "later_quote"),
    [('u10,"pro', None), ('u10,"pro', 'u50,"pro, plus",x')],
    ids=["to the end", "closed later"],
)
def test_csv_with_an_unclosed_quote(sandbox, braze_conn, tmp_path, line, later_quote):
    broken = {10: line, **({50: later_quote} if later_quote else {})}
    source = tmp_path / "users.csv"
    source.write_text(users_csv(100, broken=broken))
    rejected = tmp_path / "rejected.jsonl"

    summary = export_skipping(rejected, path=str(source))

    good = {f"u{n}" for n in range(1, 101)} - {f"u{n}" for n in broken}
    assert held(sandbox) == {u: {"plan": "pro"} for u in good}
    reported = rejected_rows(rejected)
    assert set(reported) == set(broken)
    assert reported[10]["reason"].startswith("line 11, column plan: not valid CSV (")
    assert (summary["rows_read"], summary["accepted"], summary["skipped"]) == (100, 100 - len(broken), len(broken))


def test_csv_with_an_unclosed_quote_without_skip_names_its_line(sandbox, braze_conn, tmp_path):
    source = tmp_path / "users.csv"
    source.write_text(users_csv(100, broken={10: 'u10,"pro'}))
    with pytest.raises(BrazeExportFailed, match=r"Stopped at row 10: line 11, column plan: not valid CSV"):
        run(BrazeTrackUsersOperator(task_id="t", path=str(source)))
    assert set(held(sandbox)) == {f"u{n}" for n in range(1, 10)}


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_truncated_or_garbage_gz(sandbox, braze_conn, tmp_path, damage):
    import gzip
    import os

    whole = gzip.compress(users_csv(5_000).encode())
    data = whole[: len(whole) // 2] if damage == "truncated" else os.urandom(2_000)
    source = tmp_path / "users.csv.gz"
    source.write_bytes(data)

    with pytest.raises(ValueError) as info:
        run(BrazeTrackUsersOperator(task_id="t", path=str(source), skip_on_invalid_records=True))

    message = str(info.value)
    assert f"file {source}" in message
    if damage == "truncated":
        assert "ends early (truncated): stopped after line" in message and "the rows before it were exported" in message
        # What was read before the damage went out; nothing was made up.
        assert 0 < len(held(sandbox)) < 5_000 and all(v == {"plan": "pro"} for v in held(sandbox).values())
    else:
        assert "is not a valid gzip file" in message and held(sandbox) == {}


def test_a_latin1_byte_in_a_utf8_csv(sandbox, braze_conn, tmp_path):
    text = users_csv(5_000, broken={4001: "u4001,pr\xe9mium"})  # line 4002 of the file
    source = tmp_path / "users.csv"
    source.write_bytes(text.encode("latin-1"))
    rejected = tmp_path / "rejected.jsonl"

    summary = export_skipping(rejected, path=str(source))

    assert (summary["accepted"], summary["skipped"]) == (4_999, 1) and "u4001" not in held(sandbox)
    assert rejected_rows(rejected)[4001]["reason"] == (
        "line 4002, column plan: byte 0xE9 is not UTF-8 text; if the file is in another encoding, "
        "pass it as encoding= (latin-1, cp1252 ...)"
    )

    # Told the file's encoding, every row goes through.
    run(BrazeTrackUsersOperator(task_id="t2", path=str(source), encoding="latin-1"))
    assert held(sandbox)["u4001"] == {"plan": "prémium"}


def test_phone_identifier_call_me_maybe(sandbox, braze_conn, tmp_path):
    rejected = tmp_path / "rejected.jsonl"
    records = [
        {"phone": "+14155550100", "plan": "a"},
        {"phone": "call me maybe", "plan": "b"},
        {"phone": "(415) 555-0101", "plan": "c"},
        {"phone": "12", "plan": "d"},
    ]

    summary = export_skipping(rejected, records=records)

    assert (summary["accepted"], summary["skipped"]) == (2, 2)
    assert sorted(u.phone for u in sandbox.store.users()) == ["(415) 555-0101", "+14155550100"]
    reported = rejected_rows(rejected)
    assert reported[2]["column"] == "phone" and reported[2]["reason"] == (
        "phone is not a phone number (expected digits, optionally with + and spaces, dashes, dots or parentheses)"
    )
    assert reported[4]["reason"] == "phone has 2 digits; a phone number has 7 to 15 (E.164)"
    assert "call me maybe" not in reported[2]["reason"]  # a reason never quotes personal data


@pytest.mark.parametrize(
    ("null_handling", "held_after"), [("skip", {"plan": "pro", "tags": ["a"]}), ("unset", {"plan": "pro"})]
)
def test_pre_formatted_value_null_with_null_handling_skip(sandbox, braze_conn, null_handling, held_after):
    run(
        BrazeTrackUsersOperator(
            task_id="seed", records=[{"external_id": "u1", "plan": "pro", "tags": '["a"]'}], pre_formatted_fields="tags"
        )
    )
    run(
        BrazeTrackUsersOperator(
            task_id="t",
            records=[{"external_id": "u1", "plan": "pro", "tags": "null"}],
            pre_formatted_fields="tags",
            null_handling=null_handling,
        )
    )
    assert held(sandbox) == {"u1": held_after}


def test_currency_dem(sandbox, braze_conn, tmp_path):
    purchase = {"external_id": "u1", "product_id": "sku", "price": "9.99", "time": "2026-11-30T10:00:00Z"}
    rejected = tmp_path / "rejected.jsonl"

    summary = export_skipping(
        rejected, record_type="purchases", records=[{**purchase, "currency": "DEM"}, {**purchase, "currency": "eur"}]
    )

    # Refused before sending (the Deutsche Mark was withdrawn in 2002), not by Braze after.
    assert (summary["skipped"], summary["rejected"], summary["accepted"]) == (1, 0, 1)
    assert (
        rejected_rows(rejected)[1]["reason"]
        == "currency 'DEM' is not a current ISO 4217 currency code such as USD, EUR or JPY"
    )
    assert [p["currency"] for p in sandbox.store.purchases()] == ["EUR"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"mode": "User Track", "records": []}, "Unknown Braze export mode 'User Track'; valid modes: "),
        ({"mode": "User - Track", "track_record_type": "Clicks", "records": []}, "Unknown track record type 'Clicks'"),
        ({"mode": "User - Delete"}, "give exactly one of sql (with sql_conn_id), records or path; got none of them"),
        (
            {"mode": "User - Delete", "records": [], "path": "x.csv"},
            "give exactly one of sql (with sql_conn_id), records or path; got records and path",
        ),
        ({"mode": "User - Delete", "records": [], "null_handling": "unset"}, "null_handling do not apply to mode"),
    ],
    ids=["User Track", "unknown record type", "no source", "two sources", "option of another mode"],
)
def test_mode_user_track_no_source_or_two_sources(arguments, message):
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_provider_braze.operators import BrazeExportMisconfigured, BrazeExportOperator

    # Refused when the DAG is parsed, as a failure Airflow does not retry.
    with pytest.raises(BrazeExportMisconfigured, match=re.escape(message)) as info:
        BrazeExportOperator(task_id="t", **arguments)
    assert isinstance(info.value, AirflowFailException)


def test_a_templated_mode_is_checked_when_the_task_runs(sandbox, braze_conn):
    from airflow_provider_braze.operators import BrazeExportMisconfigured, BrazeExportOperator

    operator = BrazeExportOperator(task_id="t", mode="{{ params.mode }}", records=[{"external_id": "u1"}])
    operator.mode = "User Track"  # as rendered
    with pytest.raises(BrazeExportMisconfigured, match="Unknown Braze export mode 'User Track'"):
        run(operator)
    assert sandbox.store.users() == []


@pytest.mark.parametrize(
    ("record_type", "row", "column", "reasons"),
    [
        (
            "attributes",
            {"external_id": "u9", "email": "not-an-email", "dob": "02/01/1990", "gender": "male"},
            "email",
            [
                "email is not an email address (expected name@domain)",
                "dob '02/01/1990' is not a date in the form YYYY-MM-DD",
                "gender 'male' is not one of Braze's genders: M (male), F (female), O (other), N (not applicable), "
                "P (prefer not to say)",
            ],
        ),
        (
            "purchases",
            {
                "external_id": "u9",
                "product_id": "",
                "currency": "DEM",
                "price": "1e400",
                "quantity": "0",
                "time": "2026-11-30T10:00:00Z",
            },
            "product_id",
            [
                "product_id is required (the product bought) but is empty",
                "currency 'DEM' is not a current ISO 4217 currency code such as USD, EUR or JPY",
                "price 1E+400 is beyond the 64-bit integer range (±9,223,372,036,854,775,807)",
                "quantity 0 is below 1; Braze counts at least one item per purchase",
            ],
        ),
    ],
    ids=["attributes", "purchases"],
)
def test_a_row_with_several_faults(sandbox, braze_conn, tmp_path, record_type, row, column, reasons):
    rejected = tmp_path / "rejected.jsonl"
    summary = export_skipping(rejected, record_type=record_type, records=[row])
    assert summary["skipped"] == 1 and summary["requests"] == 0
    bad = rejected_rows(rejected)[1]
    assert bad["column"] == column and bad["reason"] == "; ".join(reasons)


def test_dry_run_true_never_says_sent(sandbox, braze_conn, caplog):
    records = [{"external_id": f"u{i}", "plan": "pro"} for i in range(100)]
    with caplog.at_level("INFO"):
        summary = run(BrazeTrackUsersOperator(task_id="t", records=records, dry_run=True))
    progress = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_braze.ledger"]
    assert progress and all("(dry run, nothing sent)" in line and " sent," not in line for line in progress)
    assert (summary["rows_sent"], summary["rows_to_send"], summary["requests_needed"]) == (0, 100, 2)
    assert sandbox.store.users() == []


def test_an_unexpected_sql_column_such_as_password_hash(sandbox, braze_conn, warehouse, caplog):
    warehouse.execute(
        "create table users (external_id text, plan text, password_hash text, api_token text, push_tokens text)"
    )
    warehouse.execute("insert into users values ('u1', 'pro', 'pbkdf2$abc', 'tok-1', null)")
    warehouse.commit()

    with caplog.at_level("WARNING"):
        run(BrazeTrackUsersOperator(task_id="t", sql="select * from users", sql_conn_id="warehouse"))
    # Left out by name, with a warning; push_tokens (a Braze profile field) is no secret.
    assert held(sandbox) == {"u1": {"plan": "pro"}}
    assert "Column 'password_hash' looks like a secret and is not exported" in caplog.text
    assert "Column 'api_token' looks like a secret" in caplog.text and "push_tokens" not in caplog.text

    run(
        BrazeTrackUsersOperator(
            task_id="t2", sql="select * from users", sql_conn_id="warehouse", columns=["external_id", "api_token"]
        )
    )
    assert held(sandbox) == {"u1": {"plan": "pro", "api_token": "tok-1"}}  # named, so exported

    warehouse.execute("update users set plan = 'free'")
    warehouse.commit()
    run(
        BrazeTrackUsersOperator(
            task_id="t3", sql="select * from users", sql_conn_id="warehouse", exclude_columns="plan"
        )
    )
    assert held(sandbox) == {"u1": {"plan": "pro", "api_token": "tok-1"}}  # the new plan was not read


def test_columns_in_both_lists_are_refused_at_parse():
    from airflow_provider_braze.operators import BrazeExportMisconfigured

    with pytest.raises(BrazeExportMisconfigured, match="plan is in both columns and exclude_columns"):
        BrazeTrackUsersOperator(task_id="t", records=[], columns=["external_id", "plan"], exclude_columns=["plan"])


@pytest.mark.parametrize(
    ("time", "reason"),
    [
        (
            "03/04/2024",
            "time '03/04/2024' is ambiguous: month 3, day 4 as Braze reads MM/dd/yyyy, or day 3, month 4; "
            "write ISO 8601 (2024-03-04 or 2024-04-03)",
        ),
        (
            "31/12/2024",
            "time '31/12/2024' has no month 31: Braze reads MM/dd/yyyy (was it dd/MM/yyyy?); write ISO 8601",
        ),
        (
            "0",
            "time '0' is the Unix epoch itself (1970-01-01T00:00:00Z), the mark of a time column that was never set; "
            "leave it empty (NULL) or fix the source",
        ),
    ],
    ids=["03/04/2024", "31/12/2024", "epoch 0"],
)
def test_03_04_2024_and_epoch_0(sandbox, braze_conn, tmp_path, time, reason):
    events = [
        {"external_id": "u1", "name": "e", "time": time},
        {"external_id": "u1", "name": "e", "time": "12/25/2024"},
    ]
    rejected = tmp_path / "rejected.jsonl"
    summary = export_skipping(rejected, record_type="events", records=events)
    assert (summary["accepted"], summary["skipped"]) == (1, 1)
    assert rejected_rows(rejected)[1]["reason"] == reason
    # MM/dd/yyyy that only one convention can read is Braze's documented form, and is accepted.
    assert [e["time"] for e in sandbox.store.events()] == ["2024-12-25T00:00:00.000Z"]


def test_identifiers_of_1000_characters(sandbox, braze_conn, tmp_path):
    rejected = tmp_path / "rejected.jsonl"
    records = [
        {"external_id": "x" * 1_000, "plan": "a"},
        {"external_id": "y" * 512, "plan": "b"},
        {"user_alias_name": "z" * 1_000, "user_alias_label": "crm", "plan": "c", "_update_existing_only": "false"},
    ]
    summary = export_skipping(rejected, records=records)
    assert (summary["accepted"], summary["skipped"]) == (1, 2) and list(held(sandbox)) == ["y" * 512]
    reported = rejected_rows(rejected)
    assert reported[1]["column"] == "external_id" and reported[1]["reason"] == (
        "external_id is 1,000 characters long; identifiers longer than 512 are refused as a column mix-up "
        "(Braze's pages set no limit)"
    )
    assert reported[3]["column"] == "user_alias_name"


@pytest.mark.parametrize(
    ("depth", "reason"),
    [
        (60, f"profile nests deeper than 32 levels at {'.'.join(['a'] * 33)}; Braze's pages set no depth"),
        (5_000, "line 1: not valid JSON ("),
    ],
)
def test_nesting_60_deep(sandbox, braze_conn, tmp_path, depth, reason):
    source = tmp_path / "users.jsonl"
    source.write_text(
        '{"external_id": "deep", "profile": ' + '{"a": ' * depth + '{"leaf": 1}' + "}" * depth + "}\n"
        '{"external_id": "flat", "profile": {"a": {"b": 1}}}\n'
    )
    rejected = tmp_path / "rejected.jsonl"
    summary = export_skipping(rejected, path=str(source))
    assert (summary["accepted"], summary["skipped"]) == (1, 1) and held(sandbox) == {
        "flat": {"profile": {"a": {"b": 1}}}
    }
    assert rejected_rows(rejected)[1]["reason"].startswith(reason)


def test_external_id_email_and_phone_together(sandbox, braze_conn):
    # Accepted: external_id names the user; email and phone become its profile fields (Braze's own precedence).
    run(
        BrazeTrackUsersOperator(
            task_id="t",
            records=[{"external_id": "u1", "email": "ada@example.com", "phone": "+14155550100", "plan": "pro"}],
        )
    )
    (user,) = sandbox.store.users()
    assert (user.external_id, user.email, user.phone) == ("u1", "ada@example.com", "+14155550100")


def test_negative_price(sandbox, braze_conn):
    # Accepted: Braze's purchase object documents a float price and no sign; a refund lowers revenue.
    purchase = {"external_id": "u1", "product_id": "sku", "currency": "USD", "time": "2026-11-30T10:00:00Z"}
    summary = run(
        BrazeTrackUsersOperator(task_id="t", record_type="purchases", records=[{**purchase, "price": "-9.99"}])
    )
    assert summary["accepted"] == 1 and [p["price"] for p in sandbox.store.purchases()] == [-9.99]
