"""Custom events and purchases: one row becomes one ``/users/track`` event or purchase object.

Both objects share the same frame (https://www.braze.com/docs/api/objects_filters/event_object/,
https://www.braze.com/docs/api/objects_filters/purchase_object/): an identifier, a ``time``, an
optional ``app_id``, optional ``properties`` and ``_update_existing_only``. Columns that are none of
these, nor the object's own fields, become properties too, merged into the ``properties`` column
(the column wins on a clash), so ``SELECT user_id AS external_id, 'signup' AS name, ts AS time,
plan, source FROM ...`` needs no JSON building in SQL.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_braze.records.builder import Converter, RowBuilder, RowError, required
from airflow_provider_braze.records.identifiers import TRACK_IDENTITY_COLUMNS, TrackIdentity
from airflow_provider_braze.records.kinds import Mode, RecordType
from airflow_provider_braze.records.rules import (
    MAX_EVENT_PROPERTIES_BYTES,
    MAX_PURCHASE_PROPERTIES_BYTES,
    MAX_QUANTITY,
    braze_time,
    currency_code,
    json_size,
    property_key_problem,
)
from airflow_provider_braze.records.values import (
    INT_MAX,
    INT_MIN,
    MAX_TEXT,
    Invalid,
    checked_int,
    limited_text,
    plain,
    show,
    to_bool,
    to_int,
    to_number,
    to_text,
    type_name,
)

UPDATE_EXISTING_ONLY = "_update_existing_only"
_FRAME = TRACK_IDENTITY_COLUMNS | {"time", "app_id", "properties", UPDATE_EXISTING_ONLY}


def property_value(value: Any) -> Any:
    """One event or purchase property value: text of at most 255 characters, a number, a boolean,
    a date (sent as ISO 8601, which Braze reads as a time), or an array or object."""
    # Common text, integers and booleans are accepted inline, as in values.plain(): this runs for every
    # value of every row, and a call costs more than the checks (measured: +70 to +100 ns a value,
    # about +70 %). Every refusal is in limited_text() and checked_int(). A bool is an int of 0 or 1.
    kind = type(value)
    if kind is str:
        return value if len(value) <= MAX_TEXT and value.isascii() and "\x00" not in value else limited_text(value)
    if kind is int or kind is bool:
        return value if INT_MIN <= value <= INT_MAX else checked_int(value)
    return plain(value)


def properties_object(value: Any) -> dict[str, Any]:
    """A ``properties`` value (an object, or JSON text of one) with every name and value checked.

    Top-level nulls are left out: Braze lists no null property type.
    """
    if not isinstance(value, Mapping):
        raise Invalid(f"must be a JSON object of property names to values, not {type_name(value)}")
    result: dict[str, Any] = {}
    for key, item in value.items():
        problem = property_key_problem(key)
        if problem:
            raise Invalid(f"is not accepted: {problem}")
        if item is None:
            continue
        try:
            result[key] = property_value(item)
        except Invalid as exc:
            raise Invalid(f"value for {key!r} {exc}") from None
    return result


@dataclass(frozen=True)
class _Plan:
    identity: TrackIdentity
    properties: Converter | None  # None: the row has no properties column
    extras: tuple[tuple[str, Converter | None], ...]
    refused: tuple[tuple[str, str], ...]
    has_app_id: bool
    update_existing_only: Converter | None


class _TrackObjectBuilder(RowBuilder):
    """The frame shared by events and purchases; subclasses add their own fields in :meth:`fields`."""

    mode = Mode.TRACK
    td_modes = ("User - Track",)
    endpoint = "users/track"
    key = ""
    own_columns: frozenset[str] = frozenset()
    max_properties_bytes = 0
    noun = ""
    a_noun = ""

    def __init__(
        self,
        *,
        update_existing_only: bool | None = None,
        pre_formatted_fields: str | Iterable[str] | None = None,
        empty_as_null: bool = True,
    ) -> None:
        super().__init__(pre_formatted_fields=pre_formatted_fields, empty_as_null=empty_as_null)
        if update_existing_only is not None and not isinstance(update_existing_only, bool):
            raise ValueError(f"update_existing_only must be True, False or None, not {update_existing_only!r}")
        self.update_existing_only = update_existing_only

    def plan(self, columns: tuple[str, ...]) -> _Plan:
        extras, refused = [], []
        for column in columns:
            if column in _FRAME or column in self.own_columns:
                continue
            problem = property_key_problem(column)
            if problem:
                refused.append((column, f"column {show(column)} cannot be {self.a_noun} property: {problem}"))
            else:
                extras.append((column, self.reader(column, property_value)))
        has_properties = "properties" in columns
        has_flag = UPDATE_EXISTING_ONLY in columns
        return _Plan(
            identity=TrackIdentity(self, columns),
            properties=self.reader("properties", properties_object, json_text=True) if has_properties else None,
            extras=tuple(extras),
            refused=tuple(refused),
            has_app_id="app_id" in columns,
            update_existing_only=self.reader(UPDATE_EXISTING_ONLY, to_bool) if has_flag else None,
        )

    @abc.abstractmethod
    def fields(self, row: Mapping[str, Any], obj: dict[str, Any]) -> None:
        """Add the object's own fields (``name``; ``product_id``, ``currency`` ...) to ``obj``."""

    def make(self, row: Mapping[str, Any], plan: _Plan) -> tuple[str, Any]:
        for column, reason in plan.refused:
            if not self.is_missing(row[column]):
                raise RowError(column, reason)
        obj: dict[str, Any] = {}
        plan.identity.read(row, obj)
        self.fields(row, obj)
        obj["time"] = required(self, row, "time", braze_time, f"when the {self.noun} happened")
        if plan.has_app_id:
            app_id = self.value(row, "app_id", to_text)
            if app_id is not None:
                obj["app_id"] = app_id
        properties = self._properties(row, plan)
        if properties:
            obj["properties"] = properties
        flag = self.value(row, UPDATE_EXISTING_ONLY, plan.update_existing_only) if plan.update_existing_only else None
        if flag is None:
            flag = self.update_existing_only
        if flag is not None:
            obj[UPDATE_EXISTING_ONLY] = flag
        return self.key, obj

    def _properties(self, row: Mapping[str, Any], plan: _Plan) -> dict[str, Any] | None:
        properties = self.value(row, "properties", plan.properties) if plan.properties else None
        if plan.extras:
            properties = dict(properties) if properties else {}
            for column, convert in plan.extras:
                value = self.value(row, column, convert)
                if value is not None:
                    properties[column] = value
        if properties and any(isinstance(value, (list, dict)) for value in properties.values()):
            size = json_size(properties)
            if size > self.max_properties_bytes:
                raise RowError(
                    "properties" if plan.properties else None,
                    f"properties are {size:,} bytes as JSON, above Braze's limit of "
                    f"{self.max_properties_bytes // 1000} KB for {self.noun} properties with arrays or objects",
                )
        return properties


def _name_text(value: Any) -> str:
    text = to_text(value)
    if not text.strip():
        raise Invalid("is blank")
    return text if len(text) <= MAX_TEXT else limited_text(text)  # to_text checked the characters


class EventsBuilder(_TrackObjectBuilder):
    """Rows to ``/users/track`` event objects.

    Columns: an identifier (as for attributes), ``name`` and ``time`` (required), ``app_id``,
    ``properties`` (a JSON object or its text), ``_update_existing_only``; any other column is a
    property. ``time`` takes SQL datetimes (naive ones as UTC), ISO 8601 text or Unix seconds.

    :param update_existing_only: ``_update_existing_only`` for rows without the column; ``None``
        sends nothing (Braze creates a missing ``external_id`` user; alias users are never created
        by events).
    :param pre_formatted_fields: columns holding JSON text (``properties`` is always parsed).
    :param empty_as_null: treat ``""`` as a missing value.
    """

    record_type = RecordType.EVENTS
    td_record_type = "Custom Events"
    key = "events"
    own_columns = frozenset({"name"})
    max_properties_bytes = MAX_EVENT_PROPERTIES_BYTES
    noun = "event"
    a_noun = "an event"

    def fields(self, row: Mapping[str, Any], obj: dict[str, Any]) -> None:
        obj["name"] = required(self, row, "name", _name_text, "the custom event's name")


def _price(value: Any) -> float:
    price = float(to_number(value))
    if not math.isfinite(price):  # an integer past a float's range ("1" and 400 zeros)
        raise Invalid(f"{show(value)} is beyond the range of a price")
    return price


def _quantity(value: Any) -> int:
    number = to_int(value)
    if number < 1:
        raise Invalid(f"{number} is below 1; Braze counts at least one item per purchase")
    if number > MAX_QUANTITY:
        raise Invalid(f"{number} is above Braze's maximum of {MAX_QUANTITY}; split the purchase into several rows")
    return number


class PurchasesBuilder(_TrackObjectBuilder):
    """Rows to ``/users/track`` purchase objects.

    Columns: an identifier, ``product_id``, ``currency`` (ISO 4217, any case), ``price`` (a number
    in the currency's base unit, text is parsed) and ``time`` (required); ``quantity`` (1 to 100,
    Braze's default is 1), ``app_id``, ``properties``, ``_update_existing_only``; any other column
    is a property.

    :param update_existing_only: as for :class:`EventsBuilder`.
    :param pre_formatted_fields: columns holding JSON text (``properties`` is always parsed).
    :param empty_as_null: treat ``""`` as a missing value.
    """

    record_type = RecordType.PURCHASES
    td_record_type = "Purchases"
    key = "purchases"
    own_columns = frozenset({"product_id", "currency", "price", "quantity"})
    max_properties_bytes = MAX_PURCHASE_PROPERTIES_BYTES
    noun = "purchase"
    a_noun = "a purchase"

    def fields(self, row: Mapping[str, Any], obj: dict[str, Any]) -> None:
        obj["product_id"] = required(self, row, "product_id", _name_text, "the product bought")
        obj["currency"] = required(self, row, "currency", currency_code, "the ISO 4217 currency of the price")
        obj["price"] = required(self, row, "price", _price, "the price per item")
        if "quantity" in row:
            quantity = self.value(row, "quantity", _quantity)
            if quantity is not None:
                obj["quantity"] = quantity
