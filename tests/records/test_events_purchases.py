"""Purchases mode: rows to /users/track purchase objects."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.records import PurchasesBuilder

CSV_ROW = {
    "external_id": "u1",
    "product_id": "sku-1",
    "currency": "usd",
    "price": "9.99",
    "time": "2024-05-01T13:45:00Z",
}


def build(row, **options):
    return PurchasesBuilder(**options).build(row, 1)


def with_(**changes):
    return {**CSV_ROW, **changes}


def test_sql_row_becomes_purchase_object():
    row = {
        "email": "ada@example.com",
        "product_id": 1001,
        "currency": "EUR",
        "price": Decimal("19.90"),
        "quantity": 2,
        "time": datetime(2024, 5, 1, 13, 45),
        "app_id": "app-1",
        "properties": {"color": "red"},
        "size": "M",
    }

    assert build(row) == Item(
        "purchases",
        {
            "email": "ada@example.com",
            "product_id": "1001",
            "currency": "EUR",
            "price": 19.9,
            "quantity": 2,
            "time": "2024-05-01T13:45:00+00:00",
            "app_id": "app-1",
            "properties": {"color": "red", "size": "M"},
        },
        1,
    )


def test_csv_row_becomes_purchase_object():
    row = with_(quantity="3", properties='{"gift": true}', _update_existing_only="1")

    assert build(row) == Item(
        "purchases",
        {
            "external_id": "u1",
            "product_id": "sku-1",
            "currency": "USD",
            "price": 9.99,
            "quantity": 3,
            "time": "2024-05-01T13:45:00+00:00",
            "properties": {"gift": True},
            "_update_existing_only": True,
        },
        1,
    )


def test_empty_quantity_is_left_out_so_braze_counts_one():
    assert "quantity" not in build(with_(quantity="")).value


def test_currency_is_upper_cased():
    assert build(with_(currency=" jpy ")).value["currency"] == "JPY"


@pytest.mark.parametrize("code", ["US", "USDD", "ABC", "$"])
def test_code_that_is_not_iso_4217_is_rejected(code):
    result = build(with_(currency=code))

    assert result.column == "currency"
    assert result.reason == f"currency {code!r} is not a current ISO 4217 currency code such as USD, EUR or JPY"


def test_missing_currency_is_rejected():
    result = build(with_(currency=None))

    assert result.column == "currency"
    assert result.reason == "currency is required (the ISO 4217 currency of the price) but is empty"


@pytest.mark.parametrize(
    ("text", "price"), [("10", 10.0), ("0.5", 0.5), (" 1e2 ", 100.0), (7, 7.0), (Decimal("3.10"), 3.1)]
)
def test_price_is_sent_as_a_float(text, price):
    value = build(with_(price=text)).value["price"]

    assert value == price and isinstance(value, float)


@pytest.mark.parametrize("text", ["NaN", "inf", "-Infinity"])
def test_non_finite_price_is_rejected(text):
    result = build(with_(price=text))

    assert result.column == "price"
    assert result.reason.endswith("is not a finite number")


def test_price_that_is_not_a_number_is_rejected():
    assert build(with_(price="9.99 USD")).reason == "price '9.99 USD' is not a number"


def test_boolean_price_is_rejected():
    assert build(with_(price=True)).reason == "price is True, a boolean, not a number"


def test_missing_price_is_rejected():
    assert build(with_(price="")).column == "price"


@pytest.mark.parametrize(("value", "quantity"), [("1", 1), ("100", 100), (Decimal("5"), 5), (5.0, 5)])
def test_quantity_from_1_to_100_is_accepted(value, quantity):
    assert build(with_(quantity=value)).value["quantity"] == quantity


def test_quantity_above_100_is_rejected():
    result = build(with_(quantity=150))

    assert result.column == "quantity"
    assert result.reason == "quantity 150 is above Braze's maximum of 100; split the purchase into several rows"


def test_negative_quantity_is_rejected():
    assert build(with_(quantity="-1")).reason == "quantity -1 is below 1; Braze counts at least one item per purchase"


def test_fractional_quantity_is_rejected():
    assert build(with_(quantity=2.5)).reason == "quantity 2.5 is not a whole number"


def test_product_id_over_255_characters_is_rejected():
    result = build(with_(product_id="p" * 256))

    assert result.column == "product_id"
    assert result.reason == "product_id is 256 characters long, above Braze's limit of 255"


def test_missing_time_is_rejected():
    result = build({k: v for k, v in CSV_ROW.items() if k != "time"})

    assert result.column == "time"
    assert result.reason == "time is required (when the purchase happened) but the row has no time column"


def test_properties_with_objects_over_50_kb_are_rejected():
    result = build(with_(properties={"items": [{"sku": "x" * 200}] * 250}))

    assert result.column == "properties"
    assert result.reason.endswith("above Braze's limit of 50 KB for purchase properties with arrays or objects")


def test_properties_with_objects_under_50_kb_are_accepted():
    properties = {"items": [{"sku": "x" * 200}] * 200}

    assert build(with_(properties=properties)).value["properties"] == properties


def test_extra_column_with_a_reserved_property_name_is_rejected():
    result = build(with_(event_name="x"))

    assert result.column == "event_name"
    assert "cannot be a purchase property" in result.reason
