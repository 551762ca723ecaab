"""pre_formatted_fields: columns whose text is JSON to send as arrays, objects or typed values."""

from __future__ import annotations

import pytest

from airflow_provider_braze.records import AttributesBuilder, EventsBuilder, get_builder


def test_listed_column_json_text_becomes_an_array():
    builder = AttributesBuilder(pre_formatted_fields=["tags"])

    assert builder.build({"external_id": "u1", "tags": '["a", "b"]'}, 1).value == (
        {"external_id": "u1", "tags": ["a", "b"]}
    )


def test_comma_separated_string_lists_several_columns():
    builder = AttributesBuilder(pre_formatted_fields="tags, profile ,score")
    row = {"external_id": "u1", "tags": '["a"]', "profile": '{"pet": "Rex"}', "score": "4.5"}

    assert builder.build(row, 1).value == {"external_id": "u1", "tags": ["a"], "profile": {"pet": "Rex"}, "score": 4.5}


def test_listed_column_json_literals_become_typed_values():
    builder = AttributesBuilder(pre_formatted_fields="vip,visits,nickname")
    row = {"external_id": "u1", "vip": "true", "visits": "12", "nickname": '"Ada"'}

    assert builder.build(row, 1).value == {"external_id": "u1", "vip": True, "visits": 12, "nickname": "Ada"}


def test_unlisted_column_json_text_stays_text():
    assert AttributesBuilder().build({"external_id": "u1", "tags": '["a"]'}, 1).value["tags"] == '["a"]'


def test_listed_column_already_holding_a_list_is_taken_as_is():
    builder = AttributesBuilder(pre_formatted_fields="tags")

    assert builder.build({"external_id": "u1", "tags": ["a"]}, 1).value["tags"] == ["a"]


def test_bad_json_is_rejected_with_the_column_and_the_error_position():
    builder = AttributesBuilder(pre_formatted_fields="tags")
    result = builder.build({"external_id": "u1", "tags": '["a" "b"]'}, 1)

    assert result.column == "tags"
    assert result.reason == "tags is not valid JSON: Expecting ',' delimiter at line 1, column 6 (character 6)"


def test_json_nan_is_rejected():
    builder = AttributesBuilder(pre_formatted_fields="score")
    result = builder.build({"external_id": "u1", "score": "NaN"}, 1)

    assert (result.column, result.reason) == ("score", "score is not valid JSON: NaN is not a JSON number")


def test_parsed_json_goes_through_the_nested_rules():
    builder = AttributesBuilder(pre_formatted_fields="profile")
    result = builder.build({"external_id": "u1", "profile": '{"pet": null}'}, 1)

    assert result.column == "profile"
    assert "has a null at pet" in result.reason


def test_listed_column_that_is_empty_is_left_out():
    builder = AttributesBuilder(pre_formatted_fields="tags")

    assert builder.build({"external_id": "u1", "tags": ""}, 1).value == {"external_id": "u1"}


def test_extra_event_column_listed_as_pre_formatted_becomes_a_typed_property():
    builder = EventsBuilder(pre_formatted_fields="amount")
    row = {"external_id": "u1", "name": "paid", "time": "2024-05-01", "amount": "12.5"}

    assert builder.build(row, 1).value["properties"] == {"amount": 12.5}


@pytest.mark.parametrize("mode", ["new_alias", "identify", "delete"])
def test_every_builder_takes_pre_formatted_fields(mode):
    assert get_builder(mode, pre_formatted_fields="a,b").pre_formatted_fields == {"a", "b"}
