"""User attributes mode: rows to /users/track attributes objects."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from airflow_provider_braze.braze.items import InvalidRecord, Item
from airflow_provider_braze.records import AttributesBuilder


def build(row, **options):
    return AttributesBuilder(**options).build(row, 1)


def test_sql_row_becomes_attributes_object_with_typed_values():
    row = {
        "external_id": 1001,
        "first_name": "Ada",
        "email": "ada@example.com",
        "dob": date(1990, 1, 2),
        "country": "gb",
        "last_order_at": datetime(2024, 5, 1, 13, 45, 0),
        "lifetime_value": Decimal("120.50"),
        "orders": Decimal("7"),
        "is_vip": True,
        "tags": ("a", "b"),
    }

    assert build(row) == Item(
        "attributes",
        {
            "external_id": "1001",
            "email": "ada@example.com",
            "first_name": "Ada",
            "dob": "1990-01-02",
            "country": "GB",
            "last_order_at": "2024-05-01T13:45:00+00:00",
            "lifetime_value": 120.5,
            "orders": 7,
            "is_vip": True,
            "tags": ["a", "b"],
        },
        1,
    )


def test_csv_row_becomes_attributes_object_with_text_values():
    row = {
        "external_id": "1001",
        "first_name": "Ada",
        "last_name": "",
        "gender": "f",
        "email_subscribe": "Opted_In",
        "email_open_tracking_disabled": "false",
        "plan": "pro",
    }

    assert build(row) == Item(
        "attributes",
        {
            "external_id": "1001",
            "first_name": "Ada",
            "gender": "F",
            "email_subscribe": "opted_in",
            "email_open_tracking_disabled": False,
            "plan": "pro",
        },
        1,
    )


@pytest.mark.parametrize("column", ["external_id", "braze_id", "email", "phone"])
def test_each_identifier_column_alone_identifies_the_user(column):
    value = "ada@example.com" if column == "email" else "+14155550100" if column == "phone" else "id-1"

    assert build({column: value, "plan": "pro"}).value == {column: value, "plan": "pro"}


def test_user_alias_columns_become_a_user_alias_object():
    row = {"user_alias_name": "crm-42", "user_alias_label": "crm", "plan": "pro"}

    assert build(row).value == {"user_alias": {"alias_name": "crm-42", "alias_label": "crm"}, "plan": "pro"}


def test_user_alias_with_update_existing_only_not_given_sends_no_flag():
    row = {"user_alias_name": "crm-42", "user_alias_label": "crm"}

    assert "_update_existing_only" not in build(row).value


def test_row_without_identifier_is_rejected_naming_accepted_columns():
    result = build({"external_id": None, "email": "", "plan": "pro"})

    assert isinstance(result, InvalidRecord)
    assert result.column is None
    assert result.reason == (
        "the row has no identifier: give external_id, braze_id, email, phone, or user_alias_name with user_alias_label"
    )


def test_upper_case_identifier_column_gets_a_hint():
    result = build({"EXTERNAL_ID": "u1", "plan": "pro"})

    assert result.column is None
    assert "column 'EXTERNAL_ID' looks like 'external_id'" in result.reason


def test_alias_name_column_gets_a_hint_to_use_user_alias_columns():
    result = build({"alias_name": "crm-42", "alias_label": "crm"})

    assert "name them user_alias_name and user_alias_label" in result.reason


def test_user_alias_name_without_label_is_rejected_on_the_label_column():
    result = build({"user_alias_name": "crm-42", "user_alias_label": None})

    assert (result.column, result.reason) == (
        "user_alias_label",
        "user_alias_label is required with user_alias_name (a user alias needs both)",
    )


def test_row_with_identifier_only_creates_an_empty_attributes_object():
    assert build({"external_id": "u1"}).value == {"external_id": "u1"}


def test_null_and_empty_values_are_left_out_by_default():
    row = {"external_id": "u1", "plan": None, "city": "", "first_name": None}

    assert build(row).value == {"external_id": "u1"}


def test_unset_null_handling_sends_json_null_to_remove_attributes():
    row = {"external_id": "u1", "plan": None, "city": "", "first_name": None}

    assert build(row, null_handling="unset").value == (
        {"external_id": "u1", "plan": None, "city": None, "first_name": None}
    )


def test_unset_null_handling_never_unsets_identifiers():
    row = {
        "external_id": "u1",
        "braze_id": None,
        "email": "",
        "phone": None,
        "user_alias_name": None,
        "user_alias_label": None,
    }

    assert build(row, null_handling="unset").value == {"external_id": "u1"}


def test_unknown_null_handling_raises_value_error():
    with pytest.raises(ValueError, match="null_handling must be one of skip, unset"):
        AttributesBuilder(null_handling="drop")


def test_empty_string_is_sent_when_empty_as_null_is_off():
    assert build({"external_id": "u1", "nickname": ""}, empty_as_null=False).value == (
        {"external_id": "u1", "nickname": ""}
    )


@pytest.mark.parametrize(
    ("text", "flag"), [("true", True), ("FALSE", False), ("1", True), ("0", False), (True, True), (0, False)]
)
def test_update_existing_only_column_takes_csv_and_sql_booleans(text, flag):
    row = {"external_id": "u1", "_update_existing_only": text}

    assert build(row).value == {"external_id": "u1", "_update_existing_only": flag}


def test_update_existing_only_option_applies_to_rows_without_the_column():
    assert build({"external_id": "u1"}, update_existing_only=False).value == (
        {"external_id": "u1", "_update_existing_only": False}
    )


def test_update_existing_only_column_beats_the_option():
    row = {"user_alias_name": "a", "user_alias_label": "crm", "_update_existing_only": "true"}

    assert build(row, update_existing_only=False).value["_update_existing_only"] is True


def test_empty_update_existing_only_column_falls_back_to_the_option():
    row = {"external_id": "u1", "_update_existing_only": ""}

    assert build(row, update_existing_only=True).value == {"external_id": "u1", "_update_existing_only": True}


def test_merge_objects_column_is_sent_as_a_boolean():
    row = {"external_id": "u1", "_merge_objects": "1", "profile": {"pet": "Rex"}}

    assert build(row).value == {"external_id": "u1", "_merge_objects": True, "profile": {"pet": "Rex"}}


def test_merge_objects_option_is_sent_on_every_object():
    assert build({"external_id": "u1"}, merge_objects=True).value == {"external_id": "u1", "_merge_objects": True}


def test_non_boolean_option_raises_value_error():
    with pytest.raises(ValueError, match="update_existing_only must be True, False or None"):
        AttributesBuilder(update_existing_only="yes")


def test_push_token_import_column_is_a_boolean_flag():
    row = {"email": "ada@example.com", "push_token_import": "true"}

    assert build(row).value == {"email": "ada@example.com", "push_token_import": True}


def test_naive_datetime_is_sent_as_utc_iso_8601():
    row = {"external_id": "u1", "seen_at": datetime(2024, 5, 1, 13, 45, 0, 123456)}

    assert build(row).value["seen_at"] == "2024-05-01T13:45:00.123+00:00"


def test_aware_datetime_keeps_its_offset():
    row = {"external_id": "u1", "seen_at": datetime(2024, 5, 1, 13, 45, tzinfo=timezone(timedelta(hours=2)))}

    assert build(row).value["seen_at"] == "2024-05-01T13:45:00+02:00"


def test_sql_date_is_sent_as_iso_date():
    assert build({"external_id": "u1", "renewal": date(2025, 1, 31)}).value["renewal"] == "2025-01-31"


def test_decimal_with_decimal_places_stays_a_float_even_when_whole():
    assert build({"external_id": "u1", "balance": Decimal("10.00")}).value["balance"] == 10.0
    assert isinstance(build({"external_id": "u1", "balance": Decimal("10.00")}).value["balance"], float)


def test_whole_decimal_becomes_an_integer():
    value = build({"external_id": "u1", "visits": Decimal("12")}).value["visits"]

    assert value == 12 and isinstance(value, int)


def test_uuid_is_sent_as_text():
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")

    assert build({"external_id": value}).value == {"external_id": "12345678-1234-5678-1234-567812345678"}


def test_binary_value_is_rejected():
    result = build({"external_id": "u1", "avatar": memoryview(b"\x00")})

    assert result.column == "avatar"
    assert "binary data" in result.reason


def test_infinite_float_is_rejected():
    result = build({"external_id": "u1", "score": float("inf")})

    assert (result.column, result.reason) == ("score", "score inf is not a finite number")


def test_string_of_255_characters_is_accepted():
    assert build({"external_id": "u1", "bio": "x" * 255}).value["bio"] == "x" * 255


def test_string_over_255_characters_is_rejected_with_its_length():
    result = build({"external_id": "u1", "bio": "x" * 300})

    assert (result.column, result.reason) == ("bio", "bio is 300 characters long, above Braze's limit of 255")


def test_custom_attribute_name_over_255_characters_is_rejected():
    column = "a" * 256
    result = build({"external_id": "u1", column: "x"})

    assert result.column == column
    assert "column name of 256 characters; Braze attribute names hold at most 255" in result.reason


def test_custom_attribute_name_of_255_characters_is_accepted():
    column = "a" * 255

    assert build({"external_id": "u1", column: "x"}).value[column] == "x"


def test_column_starting_with_dollar_is_rejected():
    result = build({"external_id": "u1", "$plan": "pro"})

    assert result.column == "$plan"
    assert "starts with '$'" in result.reason


def test_bad_column_name_with_empty_value_is_left_out_when_skipping_nulls():
    assert build({"external_id": "u1", "$plan": None}).value == {"external_id": "u1"}


def test_identifier_that_is_a_float_is_rejected():
    result = build({"external_id": 12.5})

    assert (result.column, result.reason) == ("external_id", "external_id is a number; it must be text")


def test_rows_with_different_columns_each_get_their_own_plan():
    builder = AttributesBuilder()

    assert builder.build({"external_id": "u1", "a": "1"}, 1).value == {"external_id": "u1", "a": "1"}
    assert builder.build({"braze_id": "b1", "b": 2}, 2).value == {"braze_id": "b1", "b": 2}
    assert builder.build({"external_id": "u2", "a": "3"}, 3) == Item("attributes", {"external_id": "u2", "a": "3"}, 3)


def test_invalid_record_keeps_the_row_and_reference():
    row = {"plan": "pro"}
    result = AttributesBuilder().build(row, 42)

    assert result.ref == 42
    assert result.row is row


def test_user_alias_column_holding_braze_object_identifies_the_user():
    row = {"user_alias": {"alias_name": "crm-42", "alias_label": "crm"}, "plan": "pro"}

    assert build(row).value == {"user_alias": {"alias_name": "crm-42", "alias_label": "crm"}, "plan": "pro"}


def test_user_alias_column_json_text_is_parsed():
    row = {"user_alias": '{"alias_name": "crm-42", "alias_label": "crm"}'}

    assert build(row).value == {"user_alias": {"alias_name": "crm-42", "alias_label": "crm"}}


def test_user_alias_column_without_label_is_rejected():
    result = build({"user_alias": {"alias_name": "crm-42"}})

    assert result.column == "user_alias"
    assert result.reason == 'user_alias must be an object {"alias_name": ..., "alias_label": ...}'


def test_user_alias_column_contradicting_alias_columns_is_rejected():
    row = {"user_alias": {"alias_name": "a", "alias_label": "crm"}, "user_alias_name": "b", "user_alias_label": "crm"}

    assert build(row).column == "user_alias"
