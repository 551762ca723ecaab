"""Arrays, operators and nested objects in custom attributes.

Braze drops every nested attribute update of a whole request when one nested value is invalid,
so each of these must be rejected per row.
"""

from __future__ import annotations

from datetime import date, datetime

from airflow_provider_braze.records import AttributesBuilder
from airflow_provider_braze.records.rules import json_size


def attribute(value, **options):
    """The built value of custom attribute ``attr``, or the InvalidRecord."""
    result = AttributesBuilder(**options).build({"external_id": "u1", "attr": value}, 1)
    return result.value["attr"] if hasattr(result, "value") else result


def reason(value, **options):
    result = attribute(value, **options)
    assert result.column == "attr", result
    return result.reason


def test_simple_array_is_sent_as_a_list():
    assert attribute(["a", 1, 2.5, True]) == ["a", 1, 2.5, True]


def test_dates_in_a_simple_array_are_sent_as_iso_text():
    assert attribute([date(2024, 1, 2)]) == ["2024-01-02"]


def test_null_in_a_simple_array_is_rejected():
    assert reason(["a", None]) == "attr has a null at [1]; Braze arrays hold text, numbers, booleans and dates"


def test_text_over_255_characters_in_an_array_is_rejected():
    assert reason(["a", "b" * 256]) == "attr has an element of 256 characters at [1], above Braze's limit of 255"


def test_array_nested_in_a_simple_array_is_rejected():
    assert reason([["a"]]) == "attr has an array at [0]; only arrays of objects may nest"


def test_add_and_remove_operators_are_sent_as_given():
    assert attribute({"add": ["gold"], "remove": ["silver"]}) == {"add": ["gold"], "remove": ["silver"]}


def test_add_operator_with_a_null_element_is_rejected():
    assert reason({"add": [None]}) == (
        "attr 'add' has a null at [0]; Braze arrays hold text, numbers, booleans and dates"
    )


def test_integer_increment_is_sent():
    assert attribute({"inc": -3}) == {"inc": -3}


def test_boolean_increment_is_rejected():
    assert reason({"inc": True}) == "attr has inc True; Braze increments only by a whole number"


def test_increment_mixed_with_add_is_rejected():
    assert "mixes 'inc' with 'add' or 'remove'" in reason({"inc": 1, "add": ["x"]})


def test_operator_key_mixed_with_object_keys_is_rejected():
    assert "mixes the operator 'add' with other keys" in reason({"add": ["x"], "color": "red"})


def test_nested_object_is_sent_as_given():
    value = {"pet": {"name": "Rex", "age": 3, "tags": ["good"]}, "ok": True}

    assert attribute(value) is value


def test_nested_object_is_not_copied_when_nothing_changes():
    value = {"pet": {"name": "Rex"}}

    assert attribute(value)["pet"] is value["pet"]


def test_nested_date_is_wrapped_in_time_operator():
    assert attribute({"since": datetime(2024, 5, 1, 13, 45)}) == {"since": {"$time": "2024-05-01T13:45:00+00:00"}}


def test_nested_time_operator_text_is_normalised_to_iso_8601():
    assert attribute({"since": {"$time": "2024-05-01"}}) == {"since": {"$time": "2024-05-01T00:00:00+00:00"}}


def test_nested_time_operator_with_another_key_is_rejected():
    assert "'$time' must stand alone" in reason({"since": {"$time": "2024-05-01", "tz": "UTC"}})


def test_nested_time_after_year_3000_is_rejected():
    assert "after the year 3000" in reason({"since": {"$time": "3001-01-01"}})


def test_nested_null_deep_inside_is_rejected_with_its_path():
    text = reason({"pets": [{"name": "Rex", "vet": {"phone": None}}]})

    assert text == (
        "attr has a null at pets[0].vet.phone; "
        "Braze would drop every nested attribute update in the request because of it"
    )


def test_nested_key_over_255_characters_is_rejected():
    assert "nested keys hold at most 255 characters" in reason({"k" * 256: 1})


def test_nested_text_over_255_characters_is_rejected():
    assert reason({"note": "n" * 256}) == "attr has text of 256 characters at note, above Braze's limit of 255"


def test_nested_non_finite_number_is_rejected():
    assert "which is not a finite number" in reason({"score": float("nan")})


def object_of_size(size):
    """A nested object whose compact JSON is exactly ``size`` bytes (for sizes near 100 KB)."""
    value = {f"k{i:03d}": "x" * 200 for i in range(475)}
    value["pad"] = ""
    value["pad"] = "y" * (size - json_size(value))
    assert json_size(value) == size
    return value


def test_nested_object_of_exactly_100_000_bytes_is_accepted():
    value = object_of_size(100_000)

    assert attribute(value) is value


def test_nested_object_over_100_000_bytes_is_rejected_with_its_size():
    text = reason(object_of_size(100_001))

    assert text == "attr is 100,001 bytes as JSON, above Braze's limit of 100 KB for a nested attribute"


def test_array_of_objects_is_sent_as_given():
    value = [{"name": "Rex"}, {"name": "Tom"}]

    assert attribute(value) == value


def test_array_of_objects_over_100_kb_is_rejected():
    assert "above Braze's limit of 100 KB" in reason([{"n": "x" * 250} for _ in range(500)])


def test_object_array_add_operator_is_checked_like_nested_objects():
    assert "has a null at $add[0].age" in reason({"$add": [{"age": None}]})


def test_object_array_remove_operator_is_sent():
    value = {"$remove": [{"$identifier_key": "id", "$identifier_value": 7}]}

    assert attribute(value) == value


def test_object_array_remove_without_identifier_value_is_rejected():
    text = reason({"$remove": [{"$identifier_key": "id"}]})

    assert text == "attr has $remove[0] that is not an object with exactly the keys $identifier_key, $identifier_value"


def test_object_array_update_is_sent_with_merge_objects():
    value = {"$update": [{"$identifier_key": "id", "$identifier_value": 7, "$new_object": {"age": 4}}]}
    result = AttributesBuilder(merge_objects=True).build({"external_id": "u1", "attr": value}, 1)

    assert result.value == {"external_id": "u1", "_merge_objects": True, "attr": value}


def test_object_array_update_with_merge_objects_column_is_sent():
    value = {"$update": [{"$identifier_key": "id", "$identifier_value": 7, "$new_object": {"age": 4}}]}
    result = AttributesBuilder().build({"external_id": "u1", "_merge_objects": "true", "attr": value}, 1)

    assert result.value["attr"] == value


def test_object_array_update_without_merge_objects_is_rejected():
    value = {"$update": [{"$identifier_key": "id", "$identifier_value": 7, "$new_object": {"age": 4}}]}

    assert reason(value).startswith("attr uses $update, which Braze applies only with _merge_objects true")


def test_object_array_update_with_a_null_in_new_object_is_rejected():
    value = {"$update": [{"$identifier_key": "id", "$identifier_value": 7, "$new_object": {"age": None}}]}

    assert "has a null at $update[0].$new_object.age" in reason(value, merge_objects=True)


def test_object_array_operator_mixed_with_other_keys_is_rejected():
    assert "mixes 'name' with $add/$remove/$update" in reason({"$add": [{"a": 1}], "name": "x"})
