"""The bad-input corpus: every kind of invalid row the suite knows, for every mode.

:data:`BAD_INPUTS` is :data:`~tests.helpers.invalid_rows.INVALID_ROWS` (sixty kinds, one per mistake)
plus the kinds the hardening work added: text that is no text (NUL, lone surrogates), numbers
beyond 64 bits, phone numbers that are none, ambiguous and default-looking times, withdrawn
currencies, identifiers and nesting past this provider's bounds, names that are no text. Each entry
says which column the refusal must name (``None``: the row as a whole).
"""

from __future__ import annotations

from decimal import Decimal

from tests.helpers.invalid_rows import EVENT, INVALID_ROWS, PURCHASE, USER, InvalidRow


def _deep(levels: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(levels):
        value = {"a": value}
    return value


HARDENING = [
    # --- text that is no text -------------------------------------------------------------------
    InvalidRow("attributes_nul_in_value", "track", "attributes", {**USER, "plan": "pro\x00"}, "plan"),
    InvalidRow(
        "attributes_nul_in_external_id", "track", "attributes", {"external_id": "u\x001", "plan": "pro"}, "external_id"
    ),
    InvalidRow("attributes_lone_surrogate_in_value", "track", "attributes", {**USER, "plan": "pro\ud800"}, "plan"),
    InvalidRow(
        "attributes_lone_surrogate_in_external_id", "track", "attributes", {"external_id": "u\udfff"}, "external_id"
    ),
    InvalidRow("attributes_lone_surrogate_in_array", "track", "attributes", {**USER, "tags": ["a", "\ud800"]}, "tags"),
    InvalidRow("attributes_nul_in_nested_value", "track", "attributes", {**USER, "profile": {"a": "x\x00"}}, "profile"),
    InvalidRow(
        "attributes_lone_surrogate_in_nested_key", "track", "attributes", {**USER, "profile": {"\ud800": 1}}, "profile"
    ),
    InvalidRow("attributes_nul_in_column_name", "track", "attributes", {**USER, "pl\x00an": "pro"}, "pl\x00an"),
    InvalidRow("event_nul_in_name", "track", "events", {**EVENT, "name": "sign\x00up"}, "name"),
    InvalidRow("event_lone_surrogate_in_property", "track", "events", {**EVENT, "note": "\udc80"}, "note"),
    InvalidRow("event_nul_in_property_name", "track", "events", {**EVENT, "properties": {"n\x00": 1}}, "properties"),
    InvalidRow("purchase_nul_in_product_id", "track", "purchases", {**PURCHASE, "product_id": "sku\x00"}, "product_id"),
    InvalidRow(
        "new_alias_nul_in_alias_name", "new_alias", None, {"alias_name": "a\x00", "alias_label": "crm"}, "alias_name"
    ),
    InvalidRow("delete_nul_in_external_id", "delete", None, {"external_id": "u\x00"}, "external_id"),
    # --- numbers beyond 64 bits -----------------------------------------------------------------
    InvalidRow("attributes_integer_over_64_bits", "track", "attributes", {**USER, "score": 2**80}, "score"),
    InvalidRow("attributes_negative_integer_over_64_bits", "track", "attributes", {**USER, "score": -(2**64)}, "score"),
    InvalidRow("attributes_sql_decimal_1e400", "track", "attributes", {**USER, "score": Decimal("1E+400")}, "score"),
    InvalidRow(
        "attributes_increment_over_64_bits", "track", "attributes", {**USER, "visits": {"inc": 2**70}}, "visits"
    ),
    InvalidRow(
        "attributes_nested_integer_over_64_bits", "track", "attributes", {**USER, "profile": {"n": 10**30}}, "profile"
    ),
    InvalidRow("event_property_over_64_bits", "track", "events", {**EVENT, "properties": {"n": 10**30}}, "properties"),
    InvalidRow("purchase_price_1e400", "track", "purchases", {**PURCHASE, "price": "1e400"}, "price"),
    InvalidRow("purchase_quantity_over_64_bits", "track", "purchases", {**PURCHASE, "quantity": 2**70}, "quantity"),
    # --- identifiers ----------------------------------------------------------------------------
    InvalidRow(
        "attributes_phone_call_me_maybe", "track", "attributes", {"phone": "call me maybe", "plan": "pro"}, "phone"
    ),
    InvalidRow("attributes_phone_too_few_digits", "track", "attributes", {"phone": "555", "plan": "pro"}, "phone"),
    InvalidRow(
        "attributes_phone_too_many_digits",
        "track",
        "attributes",
        {"phone": "+1234567890123456", "plan": "pro"},
        "phone",
    ),
    InvalidRow(
        "attributes_external_id_of_1000_characters", "track", "attributes", {"external_id": "x" * 1000}, "external_id"
    ),
    InvalidRow("identify_phone_not_a_phone", "identify", None, {"external_id": "u1", "phone": "n/a"}, "phone"),
    InvalidRow("delete_phone_not_a_phone", "delete", None, {"phone": "unknown"}, "phone"),
    InvalidRow("delete_braze_id_of_1000_characters", "delete", None, {"braze_id": "b" * 1000}, "braze_id"),
    # --- times, currencies, nesting -------------------------------------------------------------
    InvalidRow("event_time_03_04_2024", "track", "events", {**EVENT, "time": "03/04/2024"}, "time"),
    InvalidRow("event_time_day_first", "track", "events", {**EVENT, "time": "31/12/2024"}, "time"),
    InvalidRow("event_time_epoch_0", "track", "events", {**EVENT, "time": "0"}, "time"),
    InvalidRow("event_time_epoch_0_iso", "track", "events", {**EVENT, "time": "1970-01-01T00:00:00Z"}, "time"),
    InvalidRow("purchase_time_epoch_0", "track", "purchases", {**PURCHASE, "time": 0}, "time"),
    InvalidRow("purchase_currency_dem", "track", "purchases", {**PURCHASE, "currency": "DEM"}, "currency"),
    InvalidRow("purchase_currency_frf", "track", "purchases", {**PURCHASE, "currency": "frf"}, "currency"),
    InvalidRow("attributes_nesting_60_deep", "track", "attributes", {**USER, "profile": _deep(60)}, "profile"),
    InvalidRow(
        "attributes_first_session_epoch_0",
        "track",
        "attributes",
        {**USER, "date_of_first_session": "0"},
        "date_of_first_session",
    ),
    # --- several faults in one row: the first faulty column is named, every reason given ---------
    InvalidRow(
        "attributes_several_faults",
        "track",
        "attributes",
        {**USER, "email": "nope", "gender": "male", "score": 2**80},
        "email",
    ),
    InvalidRow(
        "purchase_several_faults",
        "track",
        "purchases",
        {**PURCHASE, "currency": "DEM", "quantity": "0", "price": "x"},
        "currency",
    ),
]

BAD_INPUTS: list[InvalidRow] = [*INVALID_ROWS, *HARDENING]
