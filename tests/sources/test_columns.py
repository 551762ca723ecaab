"""columns= / exclude_columns= and secret-looking names, on source rows."""

from __future__ import annotations

import pytest

from airflow_provider_braze.sources import open_source
from airflow_provider_braze.sources.columns import ColumnFilter, looks_secret


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password_hash", True),
        ("api_token", True),
        ("ApiKey", True),
        ("user_ssn", True),
        ("credit_card_number", True),
        ("push_tokens", False),
        ("plan", False),
        ("token_count", True),
        ("passport", False),
    ],
)
def test_names_that_say_they_hold_a_secret(name, secret):
    assert looks_secret(name) is secret


def test_a_fixed_column_set_with_nothing_left_out_costs_nothing_per_row(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("external_id,plan\nu1,pro\n")
    source = open_source(path=str(path))
    assert ColumnFilter().source(source) is source  # the very same stream, no wrapper


def test_left_out_columns_are_gone_from_every_row_and_records_vary_per_row(caplog):
    rows = [{"external_id": "u1", "password": "x", "plan": "a"}, {"external_id": "u2", "note": "n", "secret": "s"}]
    with caplog.at_level("WARNING"):
        filtered = list(ColumnFilter(exclude_columns=["note"]).source(open_source(records=rows)))
    assert [data for _, data, _ in filtered] == [{"external_id": "u1", "plan": "a"}, {"external_id": "u2"}]
    assert "'password' looks like a secret" in caplog.text and "'secret' looks like a secret" in caplog.text


def test_columns_allow_list_reads_only_those_even_a_secret_it_names():
    rows = [{"external_id": "u1", "api_key": "k", "plan": "a"}]
    filtered = list(ColumnFilter(columns="external_id, api_key").source(open_source(records=rows)))
    assert [data for _, data, _ in filtered] == [{"external_id": "u1", "api_key": "k"}]


def test_a_column_in_both_lists_is_refused():
    with pytest.raises(ValueError, match="plan is in both columns and exclude_columns"):
        ColumnFilter(columns=["plan"], exclude_columns=["plan"])
