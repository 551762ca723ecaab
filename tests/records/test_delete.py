"""Delete mode: rows to /users/delete identifiers, one identifier type per row."""

from __future__ import annotations

import pytest

from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.records import DeleteBuilder


def build(row, **options):
    return DeleteBuilder(**options).build(row, 1)


def test_external_id_row_becomes_external_ids_string():
    assert build({"external_id": 1001}) == Item("external_ids", "1001", 1)


def test_braze_id_row_becomes_braze_ids_string():
    assert build({"braze_id": "5f1b2c"}) == Item("braze_ids", "5f1b2c", 1)


def test_phone_row_becomes_phone_numbers_object_with_prioritization():
    # Braze's newest /users/delete page: a phone identifier, like an email, carries a prioritization.
    assert build({"phone": "+14155550100"}) == Item(
        "phone_numbers", {"phone": "+14155550100", "prioritization": ["unidentified", "most_recently_updated"]}, 1
    )


def test_email_row_becomes_email_addresses_object_with_prioritization():
    assert build({"email": "ada@example.com"}) == Item(
        "email_addresses", {"email": "ada@example.com", "prioritization": ["unidentified", "most_recently_updated"]}, 1
    )


def test_alias_row_becomes_user_aliases_object():
    assert build({"alias_name": "crm-42", "alias_label": "crm"}) == Item(
        "user_aliases", {"alias_name": "crm-42", "alias_label": "crm"}, 1
    )


def test_csv_row_with_one_filled_identifier_column_is_accepted():
    row = {
        "external_id": "",
        "braze_id": "",
        "email": "ada@example.com",
        "phone": "",
        "alias_name": "",
        "alias_label": "",
    }

    assert build(row).key == "email_addresses"


def test_prioritization_option_is_used_for_email_rows():
    result = build({"email": "ada@example.com"}, prioritization=["identified", "most_recently_updated"])

    assert result.value == {"email": "ada@example.com", "prioritization": ["identified", "most_recently_updated"]}


def test_prioritization_column_overrides_the_option():
    result = build({"email": "ada@example.com", "prioritization": '["most_recently_updated"]'})

    assert result.value["prioritization"] == ["most_recently_updated"]


def test_least_recently_updated_option_is_refused_for_delete():
    with pytest.raises(ValueError, match="not one of identified, unidentified, most_recently_updated"):
        DeleteBuilder(prioritization=["least_recently_updated"])


def test_row_naming_two_identifier_types_is_rejected_as_ambiguous():
    result = build({"external_id": "u1", "email": "ada@example.com"})

    assert (result.column, result.reason) == (
        None,
        "the row is ambiguous: it names the user by more than one identifier (external_id, email); "
        "Braze deletes by one identifier type per request, so keep one per row",
    )


def test_row_naming_an_alias_and_a_braze_id_is_rejected_as_ambiguous():
    result = build({"braze_id": "b1", "alias_name": "a", "alias_label": "crm"})

    assert "(braze_id, alias_name/alias_label)" in result.reason


def test_row_without_identifier_is_rejected():
    result = build({"external_id": None, "note": "gdpr"})

    assert (result.column, result.reason) == (
        None,
        "the row has no user to delete: give one of external_id, braze_id, email, phone, "
        "or alias_name with alias_label",
    )


def test_blank_external_id_is_rejected():
    assert build({"external_id": " "}).reason == "external_id is blank"


def test_other_columns_are_ignored():
    assert build({"external_id": "u1", "requested_at": "2024-05-01"}) == Item("external_ids", "u1", 1)
