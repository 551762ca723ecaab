"""Identify mode: rows to /users/identify objects."""

from __future__ import annotations

import pytest

from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.records import IdentifyBuilder


def build(row, **options):
    return IdentifyBuilder(**options).build(row, 1)


def test_alias_row_becomes_aliases_to_identify_item():
    row = {"external_id": "u1", "alias_name": "crm-42", "alias_label": "crm"}

    assert build(row) == Item(
        "aliases_to_identify", {"external_id": "u1", "user_alias": {"alias_name": "crm-42", "alias_label": "crm"}}, 1
    )


def test_email_row_becomes_emails_to_identify_item_with_default_prioritization():
    row = {"external_id": 1001, "email": "ada@example.com"}

    assert build(row) == Item(
        "emails_to_identify",
        {
            "external_id": "1001",
            "email": "ada@example.com",
            "prioritization": ["unidentified", "most_recently_updated"],
        },
        1,
    )


def test_phone_row_becomes_phone_numbers_to_identify_item():
    row = {"external_id": "u1", "phone": "+14155550100"}

    assert build(row) == Item(
        "phone_numbers_to_identify",
        {"external_id": "u1", "phone": "+14155550100", "prioritization": ["unidentified", "most_recently_updated"]},
        1,
    )


def test_csv_row_with_empty_other_identifiers_uses_the_given_one():
    row = {"external_id": "u1", "alias_name": "", "alias_label": "", "email": "", "phone": "+14155550100"}

    assert build(row).key == "phone_numbers_to_identify"


def test_prioritization_option_is_used_for_email_rows():
    row = {"external_id": "u1", "email": "ada@example.com"}

    assert build(row, prioritization="identified, least_recently_updated").value["prioritization"] == [
        "identified",
        "least_recently_updated",
    ]


@pytest.mark.parametrize(
    "text",
    [
        '["identified", "most_recently_updated"]',
        "identified,most_recently_updated",
        " Identified , MOST_RECENTLY_UPDATED ",
    ],
)
def test_prioritization_column_takes_json_or_comma_separated_text(text):
    row = {"external_id": "u1", "email": "ada@example.com", "prioritization": text}

    assert build(row).value["prioritization"] == ["identified", "most_recently_updated"]


def test_empty_prioritization_column_falls_back_to_the_option():
    row = {"external_id": "u1", "email": "ada@example.com", "prioritization": ""}

    assert build(row).value["prioritization"] == ["unidentified", "most_recently_updated"]


def test_prioritization_with_unknown_value_is_rejected():
    row = {"external_id": "u1", "email": "ada@example.com", "prioritization": "newest"}
    result = build(row)

    assert (result.column, result.reason) == (
        "prioritization",
        "prioritization holds 'newest', which is not one of "
        "identified, unidentified, most_recently_updated, least_recently_updated",
    )


def test_prioritization_with_identified_and_unidentified_is_rejected():
    result = build({"external_id": "u1", "phone": "+14155550100", "prioritization": ["identified", "unidentified"]})

    assert result.reason == "prioritization holds both identified and unidentified; Braze allows only one of them"


def test_prioritization_that_repeats_a_value_is_rejected():
    result = build(
        {"external_id": "u1", "phone": "+14155550100", "prioritization": "most_recently_updated,most_recently_updated"}
    )

    assert result.reason == "prioritization repeats a value"


def test_bad_prioritization_option_raises_value_error():
    with pytest.raises(ValueError, match="prioritization holds both identified and unidentified"):
        IdentifyBuilder(prioritization=["identified", "unidentified"])


def test_empty_prioritization_option_raises_value_error():
    with pytest.raises(ValueError, match="prioritization is empty"):
        IdentifyBuilder(prioritization=[])


def test_missing_external_id_is_rejected():
    result = build({"external_id": "", "email": "ada@example.com"})

    assert result.column == "external_id"
    assert result.reason == "external_id is required (the user the profile is identified as) but is empty"


def test_row_with_nothing_to_identify_is_rejected():
    result = build({"external_id": "u1", "email": None})

    assert (result.column, result.reason) == (
        None,
        "the row has no one to identify: give alias_name with alias_label, email, or phone",
    )


def test_row_naming_alias_and_email_is_rejected_as_ambiguous():
    result = build({"external_id": "u1", "alias_name": "a", "alias_label": "crm", "email": "ada@example.com"})

    assert result.column is None
    assert result.reason == (
        "the row is ambiguous: it names the profile to identify by more than one identifier "
        "(alias_name/alias_label, email); keep one per row"
    )


def test_half_alias_is_rejected():
    assert build({"external_id": "u1", "alias_name": "a"}).column == "alias_label"


def test_bad_email_is_rejected():
    assert build({"external_id": "u1", "email": "ada"}).column == "email"
