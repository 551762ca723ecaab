"""A catalogue of invalid source rows, one per kind of mistake, for unit and end-to-end tests.

Each entry is ``(kind, mode, record_type, row, expected_column)``: building ``row`` with
``get_builder(mode, record_type)`` and default options must give an ``InvalidRecord`` whose ``column``
is ``expected_column`` (``None`` when the row as a whole is at fault). Rows use CSV-style text
where a CSV file could hold them, and Python values (bytes, dicts, floats) where only SQL or JSON
sources can.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class InvalidRow(NamedTuple):
    kind: str
    mode: str
    record_type: str | None
    row: dict[str, Any]
    expected_column: str | None


_BIG_TEXT = "x" * 200
USER = {"external_id": "user-1"}
EVENT = {"external_id": "user-1", "name": "signup", "time": "2024-05-01T13:45:00Z"}
PURCHASE = {
    "external_id": "user-1",
    "product_id": "sku-1",
    "currency": "USD",
    "price": "9.99",
    "time": "2024-05-01T13:45:00Z",
}

INVALID_ROWS: list[InvalidRow] = [
    # --- track / attributes ------------------------------------------------------------------
    InvalidRow("attributes_without_identifier", "track", "attributes", {"first_name": "Ada"}, None),
    InvalidRow(
        "attributes_half_user_alias",
        "track",
        "attributes",
        {"user_alias_name": "a-1", "first_name": "Ada"},
        "user_alias_label",
    ),
    InvalidRow(
        "attributes_blank_external_id",
        "track",
        "attributes",
        {"external_id": "   ", "first_name": "Ada"},
        "external_id",
    ),
    InvalidRow("attributes_not_an_email", "track", "attributes", {**USER, "email": "ada at example"}, "email"),
    InvalidRow("attributes_dob_not_yyyy_mm_dd", "track", "attributes", {**USER, "dob": "02/01/1990"}, "dob"),
    InvalidRow("attributes_unknown_gender", "track", "attributes", {**USER, "gender": "male"}, "gender"),
    InvalidRow("attributes_country_not_iso_3166", "track", "attributes", {**USER, "country": "UK"}, "country"),
    InvalidRow("attributes_language_not_iso_639_1", "track", "attributes", {**USER, "language": "english"}, "language"),
    InvalidRow(
        "attributes_unknown_time_zone",
        "track",
        "attributes",
        {**USER, "time_zone": "Mars/Olympus"},
        "time_zone",
    ),
    InvalidRow(
        "attributes_bad_email_subscribe",
        "track",
        "attributes",
        {**USER, "email_subscribe": "yes"},
        "email_subscribe",
    ),
    InvalidRow(
        "attributes_bad_subscription_state",
        "track",
        "attributes",
        {**USER, "subscription_groups": '[{"subscription_group_id": "g1", "subscription_state": "opted_in"}]'},
        "subscription_groups",
    ),
    InvalidRow(
        "attributes_structured_field_bad_json",
        "track",
        "attributes",
        {**USER, "subscription_groups": '[{"subscription_group_id": '},
        "subscription_groups",
    ),
    InvalidRow("attributes_text_over_255", "track", "attributes", {**USER, "bio": "x" * 256}, "bio"),
    InvalidRow("attributes_column_starting_with_dollar", "track", "attributes", {**USER, "$plan": "pro"}, "$plan"),
    InvalidRow("attributes_binary_value", "track", "attributes", {**USER, "avatar": b"\x89PNG"}, "avatar"),
    InvalidRow("attributes_not_finite_number", "track", "attributes", {**USER, "score": float("nan")}, "score"),
    InvalidRow(
        "attributes_bad_update_existing_only",
        "track",
        "attributes",
        {**USER, "_update_existing_only": "maybe"},
        "_update_existing_only",
    ),
    InvalidRow("attributes_nested_null", "track", "attributes", {**USER, "profile": {"pet": None}}, "profile"),
    InvalidRow(
        "attributes_nested_key_with_dot",
        "track",
        "attributes",
        {**USER, "profile": {"pet.name": "Rex"}},
        "profile",
    ),
    InvalidRow(
        "attributes_nested_key_with_dollar",
        "track",
        "attributes",
        {**USER, "profile": {"$pet": "Rex"}},
        "profile",
    ),
    InvalidRow(
        "attributes_nested_key_with_space",
        "track",
        "attributes",
        {**USER, "profile": {"pet name": "Rex"}},
        "profile",
    ),
    InvalidRow(
        "attributes_nested_bad_time",
        "track",
        "attributes",
        {**USER, "profile": {"since": {"$time": "soon"}}},
        "profile",
    ),
    InvalidRow(
        "attributes_nested_null_time",
        "track",
        "attributes",
        {**USER, "profile": {"since": {"$time": None}}},
        "profile",
    ),
    InvalidRow(
        "attributes_nested_over_100_kb",
        "track",
        "attributes",
        {**USER, "profile": {f"k{i}": _BIG_TEXT for i in range(600)}},
        "profile",
    ),
    InvalidRow("attributes_increment_not_integer", "track", "attributes", {**USER, "logins": {"inc": 1.5}}, "logins"),
    InvalidRow("attributes_add_not_array", "track", "attributes", {**USER, "tags": {"add": "vip"}}, "tags"),
    InvalidRow(
        "attributes_update_without_merge_objects",
        "track",
        "attributes",
        {**USER, "pets": {"$update": [{"$identifier_key": "id", "$identifier_value": 1, "$new_object": {"age": 3}}]}},
        "pets",
    ),
    InvalidRow(
        "attributes_array_mixing_objects_and_values",
        "track",
        "attributes",
        {**USER, "pets": [{"name": "Rex"}, "cat"]},
        "pets",
    ),
    # --- track / events ----------------------------------------------------------------------
    InvalidRow("event_without_identifier", "track", "events", {"name": "signup", "time": "2024-05-01T13:45:00Z"}, None),
    InvalidRow("event_without_name", "track", "events", {**USER, "name": "", "time": "2024-05-01T13:45:00Z"}, "name"),
    InvalidRow("event_name_over_255", "track", "events", {**EVENT, "name": "e" * 256}, "name"),
    InvalidRow("event_without_time_column", "track", "events", {**USER, "name": "signup"}, "time"),
    InvalidRow("event_empty_time", "track", "events", {**EVENT, "time": None}, "time"),
    InvalidRow("event_unreadable_time", "track", "events", {**EVENT, "time": "yesterday"}, "time"),
    InvalidRow("event_time_in_milliseconds", "track", "events", {**EVENT, "time": 1714571100000}, "time"),
    InvalidRow(
        "event_properties_bad_json",
        "track",
        "events",
        {**EVENT, "properties": '{"plan": "pro",}'},
        "properties",
    ),
    InvalidRow("event_properties_not_an_object", "track", "events", {**EVENT, "properties": "[1, 2]"}, "properties"),
    InvalidRow(
        "event_property_reserved_name",
        "track",
        "events",
        {**EVENT, "properties": '{"event_name": "x"}'},
        "properties",
    ),
    InvalidRow(
        "event_property_name_starting_with_dollar",
        "track",
        "events",
        {**EVENT, "properties": '{"$plan": "pro"}'},
        "properties",
    ),
    InvalidRow("event_extra_column_reserved_name", "track", "events", {**EVENT, "event_name": "signup"}, "event_name"),
    InvalidRow(
        "event_property_text_over_255",
        "track",
        "events",
        {**EVENT, "properties": {"note": "n" * 256}},
        "properties",
    ),
    InvalidRow(
        "event_properties_over_100_kb",
        "track",
        "events",
        {**EVENT, "properties": {"items": [_BIG_TEXT] * 600}},
        "properties",
    ),
    # --- track / purchases -------------------------------------------------------------------
    InvalidRow("purchase_without_product_id", "track", "purchases", {**PURCHASE, "product_id": None}, "product_id"),
    InvalidRow("purchase_unknown_currency", "track", "purchases", {**PURCHASE, "currency": "DOLLARS"}, "currency"),
    InvalidRow("purchase_price_not_a_number", "track", "purchases", {**PURCHASE, "price": "9,99"}, "price"),
    InvalidRow("purchase_price_not_finite", "track", "purchases", {**PURCHASE, "price": "NaN"}, "price"),
    InvalidRow("purchase_quantity_over_100", "track", "purchases", {**PURCHASE, "quantity": "150"}, "quantity"),
    InvalidRow("purchase_quantity_zero", "track", "purchases", {**PURCHASE, "quantity": "0"}, "quantity"),
    InvalidRow("purchase_quantity_fractional", "track", "purchases", {**PURCHASE, "quantity": "1.5"}, "quantity"),
    InvalidRow(
        "purchase_properties_over_50_kb",
        "track",
        "purchases",
        {**PURCHASE, "properties": {"items": [_BIG_TEXT] * 300}},
        "properties",
    ),
    # --- new_alias ---------------------------------------------------------------------------
    InvalidRow("new_alias_without_label", "new_alias", None, {"alias_name": "a-1", "alias_label": ""}, "alias_label"),
    InvalidRow("new_alias_without_alias", "new_alias", None, {"external_id": "user-1"}, "alias_name"),
    # --- identify ----------------------------------------------------------------------------
    InvalidRow(
        "identify_without_external_id",
        "identify",
        None,
        {"alias_name": "a-1", "alias_label": "crm"},
        "external_id",
    ),
    InvalidRow("identify_nothing_to_identify", "identify", None, {"external_id": "user-1"}, None),
    InvalidRow(
        "identify_ambiguous",
        "identify",
        None,
        {"external_id": "user-1", "email": "ada@example.com", "phone": "+14155550100"},
        None,
    ),
    InvalidRow(
        "identify_contradicting_prioritization",
        "identify",
        None,
        {"external_id": "user-1", "email": "ada@example.com", "prioritization": "identified,unidentified"},
        "prioritization",
    ),
    # --- delete ------------------------------------------------------------------------------
    InvalidRow("delete_without_identifier", "delete", None, {"external_id": None, "email": ""}, None),
    InvalidRow("delete_ambiguous", "delete", None, {"external_id": "user-1", "braze_id": "5f1b"}, None),
    InvalidRow(
        "delete_prioritization_not_allowed_for_delete",
        "delete",
        None,
        {"email": "ada@example.com", "prioritization": "least_recently_updated"},
        "prioritization",
    ),
    InvalidRow("delete_half_alias", "delete", None, {"alias_name": "a-1"}, "alias_label"),
]
