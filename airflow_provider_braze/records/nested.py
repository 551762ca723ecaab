"""Custom attribute values: plain values, arrays, operators and nested objects.

Nested objects need the strictest checks in the pipeline: when one nested value in a
``/users/track`` request is invalid (a null, a bad date, a key with ``.`` or ``$``), Braze drops
*every* nested attribute update of that request without an error
(https://www.braze.com/docs/user_guide/data/custom_data/custom_attributes/nested_custom_attribute_support). A bad
row must therefore be rejected here, before it can spoil the other 74 objects of its batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from airflow_provider_braze.records.rules import (
    MAX_NESTED_BYTES,
    braze_time,
    json_size,
    nested_key_problem,
)
from airflow_provider_braze.records.values import (
    INT_MAX,
    INT_MIN,
    MAX_TEXT,
    Invalid,
    checked_float,
    checked_int,
    checked_text,
    decimal_number,
    iso_datetime,
    limited_text,
    plain,
    show,
    type_name,
)

#: Operators on simple arrays (no ``$``) and on arrays of objects (with ``$``) (user attributes object page).
ARRAY_OPERATORS = frozenset({"add", "remove"})
OBJECT_ARRAY_OPERATORS = frozenset({"$add", "$remove", "$update"})
_OPERATOR_KEYS = ARRAY_OPERATORS | {"inc"}

_DROPS_ALL = "Braze would drop every nested attribute update in the request because of it"


def custom_value(value: Any) -> Any:
    """A custom attribute value as Braze takes it, checked against Braze's rules.

    Text of at most 255 characters, numbers, booleans, dates (sent as ISO 8601), simple arrays,
    arrays of objects, nested objects, ``{"inc": n}``, ``{"add"/"remove": [...]}`` and
    ``{"$add"/"$remove"/"$update": [...]}``.
    """
    # Common scalars are accepted inline, as in values.plain() and for the reason given in
    # events.property_value(); every refusal is in limited_text(), checked_int() and checked_float().
    kind = type(value)
    if kind is str:
        return value if len(value) <= MAX_TEXT and value.isascii() and "\x00" not in value else limited_text(value)
    if kind is int or kind is bool:
        return value if INT_MIN <= value <= INT_MAX else checked_int(value)
    if kind is float:
        return value if math.isfinite(value) else checked_float(value)
    if isinstance(value, Mapping):
        return _object(value)
    if isinstance(value, (list, tuple)):
        return _array(value)
    converted = plain(value)  # a date, a Decimal ... may become text, which has Braze's length limit
    return limited_text(converted) if isinstance(converted, str) else converted


def has_update_operator(value: Any) -> bool:
    """Whether ``value`` uses ``$update``, which Braze applies only with ``_merge_objects: true``."""
    return isinstance(value, dict) and "$update" in value


def _object(value: Mapping[str, Any]) -> Any:
    keys = value.keys()
    if keys and keys <= _OPERATOR_KEYS:
        if "inc" in keys:
            if len(keys) > 1:
                raise Invalid("mixes 'inc' with 'add' or 'remove'; send one operator per attribute")
            return {"inc": _increment(value["inc"])}
        return {key: _simple_array(items, key) for key, items in value.items()}
    if any(isinstance(key, str) and key in OBJECT_ARRAY_OPERATORS for key in keys):
        return _sized(_object_array_operators(value))
    if keys & _OPERATOR_KEYS:
        raise Invalid(
            f"mixes the operator {sorted(keys & _OPERATOR_KEYS)[0]!r} with other keys; "
            "Braze reads inc, add and remove as operators, so send them alone"
        )
    return _sized(_nested(value, ""))


def _increment(amount: Any) -> int:
    if isinstance(amount, bool) or not isinstance(amount, (int, Decimal)):
        raise Invalid(f"has inc {show(amount)}; Braze increments only by a whole number")
    if isinstance(amount, Decimal):
        number = decimal_number(amount)
        if not isinstance(number, int):
            raise Invalid(f"has inc {amount}; Braze increments only by a whole number")
        return number
    try:
        return checked_int(amount)
    except Invalid as exc:
        raise Invalid(f"has inc {str(exc).replace(' is beyond', ', beyond')}") from None


def _array(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    if any(isinstance(item, Mapping) for item in value):
        if not all(isinstance(item, Mapping) for item in value):
            raise Invalid("mixes objects with other values; an array must hold only objects or no objects")
        return _sized(_nested(value, ""))
    return _simple_array(value, None)


def _simple_array(items: Any, operator: str | None) -> list[Any]:
    where = f"'{operator}' " if operator else ""
    if not isinstance(items, (list, tuple)):
        raise Invalid(f"{where}must be an array, not {type_name(items)}")
    converted = list(items) if isinstance(items, tuple) else None
    for index, item in enumerate(items):
        kind = type(item)
        if kind is str:
            if len(item) > MAX_TEXT:
                raise Invalid(
                    f"{where}has an element of {len(item)} characters at [{index}], above Braze's limit of {MAX_TEXT}"
                )
            try:
                checked_text(item)
            except Invalid as exc:
                raise Invalid(f"{where}has an element at [{index}] that {exc}") from None
            continue
        if item is None:
            raise Invalid(f"{where}has a null at [{index}]; Braze arrays hold text, numbers, booleans and dates")
        if isinstance(item, (list, tuple, Mapping)):
            raise Invalid(f"{where}has {type_name(item)} at [{index}]; only arrays of objects may nest")
        new = plain(item)
        if new is not item:
            if converted is None:
                converted = list(items)
            converted[index] = new
    if converted is not None:
        return converted
    # A tuple was copied into ``converted`` above, so ``items`` is a list here.
    return cast("list[Any]", items)


def _object_array_operators(value: Mapping[str, Any]) -> dict[str, Any]:
    unknown = [key for key in value if key not in OBJECT_ARRAY_OPERATORS]
    if unknown:
        raise Invalid(f"mixes {show(unknown[0])} with $add/$remove/$update; send the operators alone")
    result: dict[str, Any] = {}
    for operator, items in value.items():
        if not isinstance(items, (list, tuple)):
            raise Invalid(f"'{operator}' must be an array of objects, not {type_name(items)}")
        if operator == "$add":
            if not all(isinstance(item, Mapping) for item in items):
                raise Invalid("'$add' must hold only objects")
            result[operator] = _nested(items, "$add")
        elif operator == "$remove":
            result[operator] = [_identified(item, f"$remove[{i}]", ()) for i, item in enumerate(items)]
        else:
            result[operator] = [_identified(item, f"$update[{i}]", ("$new_object",)) for i, item in enumerate(items)]
    return result


def _identified(item: Any, path: str, extra: tuple[str, ...]) -> dict[str, Any]:
    expected = ("$identifier_key", "$identifier_value", *extra)
    if not isinstance(item, Mapping) or set(item) != set(expected):
        raise Invalid(f"has {path} that is not an object with exactly the keys {', '.join(expected)}")
    key, identifier = item["$identifier_key"], item["$identifier_value"]
    if not isinstance(key, str) or not key:
        raise Invalid(f"has {path}.$identifier_key {show(key)}; it must be the name of a key")
    if identifier is None or isinstance(identifier, (list, tuple, Mapping)):
        raise Invalid(f"has {path}.$identifier_value {type_name(identifier)}; it must be text, a number or a boolean")
    result = {"$identifier_key": key, "$identifier_value": plain(identifier)}
    if extra:
        new_object = item["$new_object"]
        if not isinstance(new_object, Mapping):
            raise Invalid(f"has {path}.$new_object {type_name(new_object)}; it must be an object")
        result["$new_object"] = _nested(new_object, f"{path}.$new_object")
    return result


def _sized(value: Any) -> Any:
    size = json_size(value)
    if size > MAX_NESTED_BYTES:
        raise Invalid(f"is {size:,} bytes as JSON, above Braze's limit of 100 KB for a nested attribute")
    return value


#: Levels of objects and arrays this provider reads in a nested attribute (a decision of its own:
#: Braze documents a size limit, 100 KB, and none for depth).
MAX_NESTING = 32


def _nested(value: Any, path: str) -> Any:
    """Check one value inside a nested attribute; a container is copied only if a child changes."""
    # Scalars are checked inline for the reason given in events.property_value(); here a fault names its place.
    kind = type(value)
    if kind is str and len(value) > MAX_TEXT:
        raise Invalid(f"has text of {len(value)} characters at {_at(path)}, above Braze's limit of {MAX_TEXT}")
    if kind is str or kind is int:
        try:
            return checked_text(value) if kind is str else checked_int(value)
        except Invalid as exc:
            raise Invalid(f"has a value at {_at(path)} that {exc}") from None
    if kind is bool:
        return value
    if kind is float:
        if not math.isfinite(value):
            raise Invalid(f"has {value} at {_at(path)}, which is not a finite number")
        return value
    if value is None:
        raise Invalid(f"has a null at {_at(path)}; {_DROPS_ALL}")
    if isinstance(value, (Mapping, list, tuple)) and path.count(".") + path.count("[") >= MAX_NESTING:
        raise Invalid(
            f"nests deeper than {MAX_NESTING} levels at {_at(path)}; Braze's pages set no depth, but data nested "
            "this deep is a serialisation mistake more often than a profile: flatten it in the query"
        )
    if isinstance(value, Mapping):
        if "$time" in value:
            return _time(value, path)
        return _nested_mapping(value, path)
    if isinstance(value, (list, tuple)):
        return _nested_list(value, path)
    if isinstance(value, (datetime, date)):
        # Braze reads a date inside a nested object only in its {"$time": ...} wrapper.
        moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        return {"$time": iso_datetime(moment)}
    try:
        return _nested(plain(value), path)
    except Invalid as exc:
        raise Invalid(f"{exc} (at {_at(path)})") from None


def _nested_mapping(value: Mapping[str, Any], path: str) -> dict[str, Any]:
    changed: dict[str, Any] | None = None if isinstance(value, dict) else dict(value)
    for key, item in value.items():
        problem = nested_key_problem(key)
        if problem:
            raise Invalid(f"has the key {show(key)} at {_at(path)}, but nested {problem}; {_DROPS_ALL}")
        new = _nested(item, f"{path}.{key}" if path else key)
        if new is not item:
            if changed is None:
                changed = dict(value)
            changed[key] = new
    # Unchanged means value was already the plain container (any other kind was copied into changed).
    return value if changed is None else changed  # type: ignore[return-value]


def _nested_list(value: list[Any] | tuple[Any, ...], path: str) -> list[Any]:
    changed: list[Any] | None = None if isinstance(value, list) else list(value)
    for index, item in enumerate(value):
        new = _nested(item, f"{path}[{index}]")
        if new is not item:
            if changed is None:
                changed = list(value)
            changed[index] = new
    # Unchanged means value was already the plain container (any other kind was copied into changed).
    return value if changed is None else changed  # type: ignore[return-value]


def _time(value: Mapping[str, Any], path: str) -> dict[str, str]:
    where = _at(f"{path}.$time" if path else "$time")
    if len(value) != 1:
        raise Invalid(f"has an object with '$time' and other keys at {_at(path)}; '$time' must stand alone")
    moment = value["$time"]
    if moment is None:
        raise Invalid(f"has a null date at {where}; {_DROPS_ALL}")
    try:
        return {"$time": braze_time(moment)}
    except Invalid as exc:
        raise Invalid(f"has an invalid date at {where}: {exc}; {_DROPS_ALL}") from None


def _at(path: str) -> str:
    return path if path else "the top level"
