"""New alias mode: rows to /users/alias/new user_aliases objects."""

from __future__ import annotations

from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.records import NewAliasBuilder


def build(row):
    return NewAliasBuilder().build(row, 3)


def test_alias_without_external_id_creates_an_alias_only_user():
    assert build({"alias_name": "crm-42", "alias_label": "crm"}) == Item(
        "user_aliases", {"alias_name": "crm-42", "alias_label": "crm"}, 3
    )


def test_alias_with_external_id_is_added_to_that_user():
    row = {"external_id": 1001, "alias_name": "crm-42", "alias_label": "crm"}

    assert build(row).value == {"alias_name": "crm-42", "alias_label": "crm", "external_id": "1001"}


def test_csv_row_with_empty_external_id_creates_an_alias_only_user():
    row = {"external_id": "", "alias_name": "crm-42", "alias_label": "crm"}

    assert build(row).value == {"alias_name": "crm-42", "alias_label": "crm"}


def test_other_columns_are_ignored():
    row = {"alias_name": "crm-42", "alias_label": "crm", "loaded_at": "2024-05-01"}

    assert build(row).value == {"alias_name": "crm-42", "alias_label": "crm"}


def test_alias_without_label_is_rejected():
    result = build({"alias_name": "crm-42", "alias_label": None})

    assert result.column == "alias_label"
    assert result.reason == "alias_label is required with alias_name (a user alias needs both)"


def test_alias_without_name_is_rejected():
    assert build({"alias_name": "", "alias_label": "crm"}).column == "alias_name"


def test_row_without_alias_columns_is_rejected():
    result = build({"external_id": "u1"})

    assert (result.column, result.reason) == (
        "alias_name",
        "alias_name and alias_label are required to create an alias, but the row has neither",
    )


def test_blank_alias_name_is_rejected():
    assert build({"alias_name": "  ", "alias_label": "crm"}).reason == "alias_name is blank"
