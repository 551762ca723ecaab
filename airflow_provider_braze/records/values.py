"""Value coercion: SQL, CSV and JSON values to the JSON values Braze takes.

Every function here either returns a JSON-ready value or raises :class:`Invalid` with a message
that reads after the column name ("``quantity`` *150 is above Braze's maximum of 100*"), so the
builders can name the column without each rule knowing it.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any

#: CSV and SQL spellings of booleans (compared lower-cased).
TRUE_TEXT = frozenset({"true", "1"})
FALSE_TEXT = frozenset({"false", "0"})


class Invalid(ValueError):
    """A value Braze would refuse or mangle; the message continues a sentence that starts with the column."""


#: The integers a JSON number can carry to Braze unchanged: signed 64-bit. Braze's pages give no
#: range, and JSON parsers store larger integers as floats (losing digits) or refuse them.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
#: Longest string value, attribute key or property key Braze stores (all three object pages).
MAX_TEXT = 255


def checked_int(value: int) -> int:
    """An integer within the signed 64-bit range.

    :raises Invalid: beyond it.
    """
    if INT_MIN <= value <= INT_MAX:
        return value
    digits = str(value)
    shown = digits if len(digits) <= 24 else f"{digits[:8]}...({len(digits)} digits)"
    raise Invalid(f"{shown} is beyond the 64-bit integer range (±9,223,372,036,854,775,807)")


def checked_float(value: float) -> float:
    """A finite float.

    :raises Invalid: for ``nan`` and the infinities, which have no JSON form.
    """
    if not math.isfinite(value):
        raise Invalid(f"{value} is not a finite number")
    return value


def limited_text(value: str) -> str:
    """Text of at most :data:`MAX_TEXT` characters that Braze can store (see :func:`checked_text`).

    :raises Invalid: naming the length, or the character at fault.
    """
    if len(value) > MAX_TEXT:
        raise Invalid(f"is {len(value)} characters long, above Braze's limit of {MAX_TEXT}")
    return checked_text(value)


def checked_text(value: str) -> str:
    """Text Braze can store: no NUL character and valid Unicode (no lone surrogate).

    Both checks run at C speed (``isascii`` is a flag read for most strings).

    :raises Invalid: naming which.
    """
    if "\x00" in value:
        raise Invalid("holds a NUL character (\\x00), which Braze does not store; remove it in the source or query")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid(
                "holds a lone surrogate (U+D800 to U+DFFF), which is not Unicode text; "
                "the source was decoded or escaped wrongly"
            ) from None
    return value


def show(value: Any, limit: int = 40) -> str:
    """A short ``repr`` of ``value`` for the reason a row is invalid, so a reason never carries a whole blob."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[: limit - 3]}...{size}"


def type_name(value: Any) -> str:
    """The JSON-ish name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return f"a {type(value).__name__}"


def field_list(value: str | Iterable[str] | None) -> frozenset[str]:
    """Column names given as a list or as Treasure Data's comma-separated string.

    :param value: ``"a, b"``, ``["a", "b"]`` or ``None``.
    """
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = value.split(",")
    return frozenset(name.strip() for name in value if name and name.strip())


def _reject_constant(name: str) -> Any:
    # json.loads accepts NaN and Infinity by default; Braze's JSON parser does not.
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def parse_json(text: str) -> Any:
    """Parse JSON text from a ``pre_formatted_fields`` column.

    :param text: the column's text.
    :raises Invalid: naming the position of the first error.
    """
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise Invalid(
            f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} (character {exc.pos + 1})"
        ) from None
    except ValueError as exc:
        raise Invalid(f"is not valid JSON: {exc}") from None


def to_bool(value: Any) -> bool:
    """A boolean from SQL, JSON or CSV (``true``/``false``/``1``/``0``, any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE_TEXT:
            return True
        if text in FALSE_TEXT:
            return False
    raise Invalid(f"{show(value)} is not a boolean; use true/false or 1/0")


def to_number(value: Any) -> int | float:
    """A finite number from SQL, JSON or CSV text."""
    if isinstance(value, bool):
        raise Invalid(f"is {show(value)}, a boolean, not a number")
    if isinstance(value, int):
        return checked_int(value)
    if isinstance(value, float):
        return checked_float(value)
    if isinstance(value, Decimal):
        return decimal_number(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            raise Invalid(f"{show(value)} is not a number") from None
        return decimal_number(number)
    raise Invalid(f"is {type_name(value)}, not a number")


def to_int(value: Any) -> int:
    """A whole number from SQL, JSON or CSV text (``"3"``, ``3.0`` and ``Decimal("3")`` are fine)."""
    number = to_number(value)
    if isinstance(number, float):
        if not number.is_integer():
            raise Invalid(f"{show(value)} is not a whole number")
        return int(number)
    return number


def decimal_number(value: Decimal) -> int | float:
    """A SQL ``DECIMAL`` as a JSON number.

    A value written with decimal places (``Decimal("10.00")`` from ``NUMERIC(10, 2)``) stays a float
    even when whole, so one column always lands in Braze as one type (Braze fixes a custom
    attribute's type from the values it sees).
    """
    if not value.is_finite():
        raise Invalid(f"{value} is not a finite number")
    # A finite Decimal's exponent is an int; typeshed also allows the 'n'/'N'/'F' of NaN and infinity.
    if value.as_tuple().exponent >= 0:  # type: ignore[operator]
        if value.adjusted() > 19:  # "1e400": do not build a 400-digit integer to refuse it
            raise Invalid(f"{value} is beyond the 64-bit integer range (±9,223,372,036,854,775,807)")
        return checked_int(int(value))
    number = float(value)
    if not math.isfinite(number):
        raise Invalid(f"{show(value)} is beyond the range of a JSON number")
    return number


def to_text(value: Any) -> str:
    """An identifier-like string: text as is, whole numbers (SQL integer ids) as digits."""
    if isinstance(value, str):
        return checked_text(value)
    if isinstance(value, bool):
        raise Invalid(f"is {show(value)}, a boolean; it must be text")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, uuid.UUID):
        return str(value)
    raise Invalid(f"is {type_name(value)}; it must be text")


def iso_datetime(value: datetime) -> str:
    """ISO 8601 with an explicit offset; a naive datetime is taken as UTC (Braze's own default)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    # Braze keeps milliseconds; more digits only risk a stricter parser on their side.
    return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")


def plain(value: Any) -> Any:
    """A Python value from a SQL row or a record list, as the JSON value Braze should get.

    Datetimes become ISO 8601 text, ``Decimal`` a number, tuples lists; containers are copied only
    when something inside them changes.

    :raises Invalid: for binary data, non-finite numbers and types JSON cannot carry.
    """
    # The common values (plain ASCII text, integers, finite floats) are accepted inline, without a
    # call; the checked_* functions, which hold every refusal, run only when there is more to see.
    # nested.custom_value() and events.property_value() have the same fast path, for the same reason.
    kind = type(value)
    if kind is str:
        return value if value.isascii() and "\x00" not in value else checked_text(value)
    if kind is int:
        return value if INT_MIN <= value <= INT_MAX else checked_int(value)
    if kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else checked_float(value)
    if isinstance(value, datetime):
        return iso_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return decimal_number(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise Invalid("holds binary data, which Braze cannot store; cast it to text (hex or base64) in the query")
    if isinstance(value, Mapping):
        return _plain_mapping(value)
    if isinstance(value, (list, tuple)):
        return _plain_list(value)
    # Subclasses (IntEnum, StrEnum, numpy scalars that subclass float) become the base type.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return checked_int(int(value))
    if isinstance(value, float):
        return plain(float(value))
    if isinstance(value, str):
        return checked_text(str(value))
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, time):
        return value.isoformat()
    raise Invalid(f"is {type_name(value)}, which has no JSON form")


def _plain_mapping(value: Mapping[str, Any]) -> Any:
    for key in value:
        if type(key) is str:
            try:
                checked_text(key)
            except Invalid as exc:
                raise Invalid(f"has a key that {exc}") from None
    converted = {key: plain(item) for key, item in value.items()}
    if isinstance(value, dict) and all(converted[key] is item for key, item in value.items()):
        return value
    return converted


def _plain_list(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    converted = [plain(item) for item in value]
    if isinstance(value, list) and all(new is old for new, old in zip(converted, value, strict=False)):
        return value
    return converted
