"""Custom events mode: rows to /users/track event objects."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.records import EventsBuilder


def build(row, **options):
    return EventsBuilder(**options).build(row, 1)


def test_sql_row_becomes_event_object():
    row = {
        "external_id": 42,
        "name": "order_placed",
        "time": datetime(2024, 5, 1, 13, 45, 0),
        "app_id": "app-1",
        "properties": {"items": 3, "coupon": None},
        "total": Decimal("19.90"),
        "placed_on": date(2024, 5, 1),
    }

    assert build(row) == Item(
        "events",
        {
            "external_id": "42",
            "name": "order_placed",
            "time": "2024-05-01T13:45:00+00:00",
            "app_id": "app-1",
            "properties": {"items": 3, "total": 19.9, "placed_on": "2024-05-01"},
        },
        1,
    )


def test_csv_row_becomes_event_object_with_properties_json_parsed():
    row = {
        "user_alias_name": "crm-1",
        "user_alias_label": "crm",
        "name": "signup",
        "time": "2024-05-01 13:45:00",
        "properties": '{"plan": "pro", "seats": 3}',
        "source": "web",
        "app_id": "",
        "_update_existing_only": "false",
    }

    assert build(row) == Item(
        "events",
        {
            "user_alias": {"alias_name": "crm-1", "alias_label": "crm"},
            "name": "signup",
            "time": "2024-05-01T13:45:00+00:00",
            "properties": {"plan": "pro", "seats": 3, "source": "web"},
            "_update_existing_only": False,
        },
        1,
    )


def test_event_without_properties_has_no_properties_key():
    row = {"braze_id": "b1", "name": "open", "time": "2024-05-01T13:45:00Z"}

    assert build(row).value == {"braze_id": "b1", "name": "open", "time": "2024-05-01T13:45:00+00:00"}


def test_extra_column_beats_the_same_key_in_properties():
    row = {"external_id": "u1", "name": "e", "time": "2024-05-01", "properties": '{"plan": "free"}', "plan": "pro"}

    assert build(row).value["properties"] == {"plan": "pro"}


def test_empty_extra_columns_are_left_out_of_properties():
    row = {"external_id": "u1", "name": "e", "time": "2024-05-01", "plan": "", "seats": None}

    assert "properties" not in build(row).value


def test_properties_given_as_a_dict_are_not_mutated():
    properties = {"plan": "free"}
    build({"external_id": "u1", "name": "e", "time": "2024-05-01", "properties": properties, "seats": 3})

    assert properties == {"plan": "free"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2024, 5, 1, 13, 45), "2024-05-01T13:45:00+00:00"),
        (datetime(2024, 5, 1, 13, 45, tzinfo=timezone(timedelta(hours=-7))), "2024-05-01T13:45:00-07:00"),
        (date(2024, 5, 1), "2024-05-01T00:00:00+00:00"),
        ("2024-05-01T13:45:00Z", "2024-05-01T13:45:00+00:00"),
        ("2024-05-01T13:45:00.250+02:00", "2024-05-01T13:45:00.250+02:00"),
        ("2024-05-01T13:45:00:123Z", "2024-05-01T13:45:00.123+00:00"),
        ("2024-05-01T13:45:00:123-0500", "2024-05-01T13:45:00.123-05:00"),
        ("2024-05-01T13:45:00", "2024-05-01T13:45:00+00:00"),
        ("2024-05-01 13:45:00", "2024-05-01T13:45:00+00:00"),
        ("2024-05-01", "2024-05-01T00:00:00+00:00"),
        ("05/13/2024", "2024-05-13T00:00:00+00:00"),
        (1714571100, "2024-05-01T13:45:00+00:00"),
        ("1714571100", "2024-05-01T13:45:00+00:00"),
        (Decimal("1714571100.5"), "2024-05-01T13:45:00.500+00:00"),
    ],
)
def test_time_in_braze_accepted_forms_is_sent_as_iso_8601_with_offset(value, expected):
    row = {"external_id": "u1", "name": "e", "time": value}

    assert build(row).value["time"] == expected


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", "2024-02-30T00:00:00"])
def test_time_in_another_form_is_rejected(value):
    # (dd/MM/yyyy and ambiguous slash dates: test_bad_input_table.)
    result = build({"external_id": "u1", "name": "e", "time": value})

    assert result.column == "time"
    assert result.reason == (
        f"time {value!r} is not a time Braze accepts; use ISO 8601 such as 2024-05-01T13:45:00Z, or Unix seconds"
    )


def test_time_in_milliseconds_is_rejected_with_a_hint():
    result = build({"external_id": "u1", "name": "e", "time": 1714571100000})

    assert result.reason == (
        "time 1714571100000 is too large for Unix seconds (after the year 3000); "
        "if it counts milliseconds, divide it by 1000 in the query"
    )


def test_boolean_time_is_rejected():
    assert build({"external_id": "u1", "name": "e", "time": True}).reason == "time is True, a boolean, not a time"


def test_missing_name_column_is_rejected():
    result = build({"external_id": "u1", "time": "2024-05-01"})

    assert result.column == "name"
    assert result.reason == "name is required (the custom event's name) but the row has no name column"


def test_blank_name_is_rejected():
    assert build({"external_id": "u1", "name": "  ", "time": "2024-05-01"}).reason == "name is blank"


def test_name_of_255_characters_is_accepted():
    assert build({"external_id": "u1", "name": "n" * 255, "time": "2024-05-01"}).value["name"] == "n" * 255


def test_properties_json_text_is_parsed_without_pre_formatted_fields():
    row = {"external_id": "u1", "name": "e", "time": "2024-05-01", "properties": '{"tags": ["a"], "meta": {"k": 1}}'}

    assert build(row).value["properties"] == {"tags": ["a"], "meta": {"k": 1}}


@pytest.mark.parametrize("key", ["time", "event_name"])
def test_reserved_property_names_are_rejected(key):
    result = build({"external_id": "u1", "name": "e", "time": "2024-05-01", "properties": {key: 1}})

    assert result.column == "properties"
    assert result.reason == (
        f"properties is not accepted: property name {key!r} is reserved by Braze and causes an API error"
    )


def test_empty_property_name_is_rejected():
    result = build({"external_id": "u1", "name": "e", "time": "2024-05-01", "properties": {"": 1}})

    assert result.reason == "properties is not accepted: property names must not be empty"


def test_property_name_over_255_characters_is_rejected():
    result = build({"external_id": "u1", "name": "e", "time": "2024-05-01", "properties": {"p" * 256: 1}})

    assert "property name of 256 characters is above Braze's limit of 255" in result.reason


def test_extra_column_starting_with_dollar_is_rejected():
    result = build({"external_id": "u1", "name": "e", "time": "2024-05-01", "$source": "web"})

    assert result.column == "$source"
    assert "cannot be an event property" in result.reason


def test_datetime_property_is_sent_as_iso_8601():
    row = {"external_id": "u1", "name": "e", "time": "2024-05-01", "shipped_at": datetime(2024, 5, 2, 8, 0)}

    assert build(row).value["properties"] == {"shipped_at": "2024-05-02T08:00:00+00:00"}


def test_binary_property_is_rejected():
    result = build({"external_id": "u1", "name": "e", "time": "2024-05-01", "blob": b"\x00"})

    assert result.column == "blob"


def test_flat_properties_are_not_size_limited():
    properties = {f"p{i}": "x" * 255 for i in range(500)}
    row = {"external_id": "u1", "name": "e", "time": "2024-05-01", "properties": properties}

    assert build(row).value["properties"] == properties


def test_properties_with_arrays_up_to_100_kb_are_accepted():
    properties = {"items": ["x" * 200] * 450}
    row = {"external_id": "u1", "name": "e", "time": "2024-05-01", "properties": properties}

    assert build(row).value["properties"] == properties


def test_properties_with_arrays_over_100_kb_are_rejected():
    row = {"external_id": "u1", "name": "e", "time": "2024-05-01", "properties": {"items": ["x" * 200] * 500}}
    result = build(row)

    assert result.column == "properties"
    assert result.reason == (
        "properties are 101,511 bytes as JSON, "
        "above Braze's limit of 100 KB for event properties with arrays or objects"
    )


def test_update_existing_only_option_is_sent():
    row = {"external_id": "u1", "name": "e", "time": "2024-05-01"}

    assert build(row, update_existing_only=True).value["_update_existing_only"] is True


def test_event_without_identifier_is_rejected():
    result = build({"name": "e", "time": "2024-05-01"})

    assert result.column is None
    assert result.reason.startswith("the row has no identifier")


def test_user_alias_column_is_an_identifier_not_a_property():
    row = {"user_alias": {"alias_name": "a", "alias_label": "crm"}, "name": "e", "time": "2024-05-01"}

    assert build(row).value == {
        "user_alias": {"alias_name": "a", "alias_label": "crm"},
        "name": "e",
        "time": "2024-05-01T00:00:00+00:00",
    }
