"""Braze's rules for single values: times, codes, key names, lengths and sizes.

Each rule follows one of Braze's object pages: the user attributes object
(https://www.braze.com/docs/api/objects_filters/user_attributes_object/), the event object
(https://www.braze.com/docs/api/objects_filters/event_object/) or the purchase object
(https://www.braze.com/docs/api/objects_filters/purchase_object/). Rules raise
:class:`~airflow_provider_braze.records.values.Invalid` with a message that continues a sentence
starting with the column name.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Collection, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import cache
from typing import Any, cast

from airflow_provider_braze.records.currencies import ISO_4217
from airflow_provider_braze.records.values import MAX_TEXT, Invalid, checked_text, iso_datetime, show, type_name

#: Largest nested custom attribute (object or array of objects), per Braze's nested custom attributes page
#: (https://www.braze.com/docs/user_guide/data/custom_data/custom_attributes/nested_custom_attribute_support).
#: Braze says "100 KB"; we count 100,000 bytes of compact UTF-8 JSON, the stricter reading, because one
#: value over the limit makes Braze drop every nested update of the whole request.
MAX_NESTED_BYTES = 100_000
#: Largest event ``properties`` holding arrays or objects (event object).
MAX_EVENT_PROPERTIES_BYTES = 100_000
#: Largest purchase ``properties`` holding arrays or objects (purchase object).
MAX_PURCHASE_PROPERTIES_BYTES = 50_000
#: Largest purchase ``quantity`` (purchase object).
MAX_QUANTITY = 100
#: Braze stores dates after the year 3000 as text, and drops them inside nested objects (attributes object).
MAX_YEAR = 3000
_MAX_EPOCH_SECONDS = datetime(MAX_YEAR, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()

#: Event property keys that Braze answers with an API error (event object).
RESERVED_PROPERTY_KEYS = frozenset({"time", "event_name"})

# Braze's "yyyy-MM-ddTHH:mm:ss:SSSZ" (milliseconds after a colon) and "MM/dd/yyyy" (attributes and event object pages).
_COLON_MILLIS = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}):(\d{3})(Z|[+-]\d{2}:?\d{2})?\Z")
_US_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})\Z")
# Unix seconds, as Treasure Data's ``time`` column holds them.
_EPOCH = re.compile(r"-?\d+(\.\d+)?\Z")
_TIME_HINT = "use ISO 8601 such as 2024-05-01T13:45:00Z, or Unix seconds"
_EPOCH_START = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_START_NAIVE = datetime(1970, 1, 1)


def text(value: Any, limit: int = MAX_TEXT) -> str:
    """A string value Braze stores whole (at most ``limit`` characters)."""
    if not isinstance(value, str):
        raise Invalid(f"is {type_name(value)}; it must be text")
    if len(value) > limit:
        raise Invalid(f"is {len(value)} characters long, above Braze's limit of {limit}")
    return value


def braze_time(value: Any) -> str:
    """A time Braze accepts, as ISO 8601 with an offset (naive and date-only values are UTC).

    Accepts SQL ``datetime``/``date``; Unix seconds (number or digits); and the text forms of
    Braze's documentation: ISO 8601 (``T`` or space between date and time),
    ``yyyy-MM-ddTHH:mm:ss:SSSZ`` and ``MM/dd/yyyy``.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, bool):
        raise Invalid(f"is {show(value)}, a boolean, not a time")
    elif isinstance(value, (int, float, Decimal)):
        moment = _from_epoch(value)
    elif isinstance(value, str):
        moment = _parse_time_text(value)
    else:
        raise Invalid(f"is {type_name(value)}, not a time; {_TIME_HINT}")
    if moment.year > MAX_YEAR:
        raise Invalid(f"{show(value)} is after the year {MAX_YEAR}, which Braze does not store as a time")
    if moment in (_EPOCH_START, _EPOCH_START_NAIVE):
        # Nothing a warehouse records happened at the epoch's first second: a time column defaulted to 0.
        raise Invalid(
            f"{show(value)} is the Unix epoch itself (1970-01-01T00:00:00Z), the mark of a time column that "
            "was never set; leave it empty (NULL) or fix the source"
        )
    return iso_datetime(moment)


def _from_epoch(number: int | float | Decimal) -> datetime:
    if isinstance(number, (float, Decimal)) and not math.isfinite(number):
        raise Invalid(f"{number} is not a time")
    # abs() of the three-way union is typed as object; it is one of the three, each comparable with a float.
    magnitude = cast("int | float | Decimal", abs(number))
    if magnitude > _MAX_EPOCH_SECONDS:
        raise Invalid(
            f"{number} is too large for Unix seconds (after the year {MAX_YEAR}); "
            "if it counts milliseconds, divide it by 1000 in the query"
        )
    return datetime.fromtimestamp(float(number), timezone.utc)


def _parse_time_text(value: str) -> datetime:
    stripped = value.strip()
    if _EPOCH.match(stripped):
        return _from_epoch(Decimal(stripped))
    # Each accepted format in turn; a value none of them reads is refused below.
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(stripped)
    match = _COLON_MILLIS.match(stripped)
    if match:
        day, clock, millis, offset = match.groups()
        offset = "+00:00" if offset in (None, "Z") else offset
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(f"{day}T{clock}.{millis}{offset}")
    match = _US_DATE.match(stripped)
    if match:
        month, day, year = (int(part) for part in match.groups())
        if month <= 12 and day <= 12 and month != day:
            # Braze reads MM/dd/yyyy; a source writing dd/MM/yyyy would be read wrong without a sound.
            raise Invalid(
                f"{show(value)} is ambiguous: month {month}, day {day} as Braze reads MM/dd/yyyy, or day {month}, "
                f"month {day}; write ISO 8601 ({year:04d}-{month:02d}-{day:02d} or {year:04d}-{day:02d}-{month:02d})"
            )
        if month > 12:
            raise Invalid(
                f"{show(value)} has no month {month}: Braze reads MM/dd/yyyy (was it dd/MM/yyyy?); write ISO 8601"
            )
        with contextlib.suppress(ValueError):
            return datetime(year, month, day)
    raise Invalid(f"{show(value)} is not a time Braze accepts; {_TIME_HINT}")


def calendar_date(value: Any) -> str:
    """A date of birth in Braze's one form, ``YYYY-MM-DD`` (attributes object)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        stripped = value.strip()
        if len(stripped) == 10:
            with contextlib.suppress(ValueError):
                return date.fromisoformat(stripped).isoformat()
        raise Invalid(f"{show(value)} is not a date in the form YYYY-MM-DD")
    raise Invalid(f"is {type_name(value)}, not a date in the form YYYY-MM-DD")


def currency_code(value: Any) -> str:
    """A current ISO 4217 alphabetic currency code, upper-cased (a withdrawn one such as DEM is refused)."""
    return _code_in(
        value,
        ISO_4217,
        upper=True,
        names="a current ISO 4217 currency code",
        examples="USD, EUR or JPY",
        must_be="an ISO 4217 currency code such as USD",
    )


def _code_in(
    value: Any,
    codes: Collection[str],
    *,
    upper: bool,
    names: str,
    examples: str,
    must_be: str,
    hints: Mapping[str, str] | None = None,
) -> str:
    """``value`` trimmed and in the case ``codes`` hold, if it is one of them (the ISO code checks).

    :param names: what a valid code is, for the message ("an ISO 639-1 language code").
    :param examples: valid codes for the message ("en, fr or ja").
    :param must_be: the message's end for a value that is not text at all.
    :param hints: a word on a common mistake (``UK``), shown instead of the examples.
    """
    if not isinstance(value, str):
        raise Invalid(f"is {type_name(value)}; it must be {must_be}")
    code = value.strip().upper() if upper else value.strip().lower()
    if code in codes:
        return code
    hint = hints.get(code) if hints else None
    raise Invalid(f"{show(value)} is not {names}" + (f" ({hint})" if hint else f" such as {examples}"))


# CLDR territories that are not ISO 3166-1 countries (continents, unions, reserved ranges).
_NOT_COUNTRIES = frozenset({"AC", "CP", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"})
_COUNTRY_HINTS = {"UK": "the United Kingdom is GB"}


@cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 country codes, from babel's CLDR territory list."""
    from babel import Locale

    territories = Locale("en").territories
    return (
        frozenset(code for code in territories if isinstance(code, str) and len(code) == 2 and code.isalpha())
        - _NOT_COUNTRIES
    )


def country_code(value: Any) -> str:
    """An ISO 3166-1 alpha-2 country code, upper-cased.

    Braze stores an unknown country as NULL without an error (attributes object), so a typo would silently
    blank the field; hence the check against the real list.
    """
    return _code_in(
        value,
        countries(),
        upper=True,
        names="an ISO 3166-1 alpha-2 country code",
        examples="US, GB or DE",
        must_be="a two-letter country code such as US",
        hints=_COUNTRY_HINTS,
    )


@cache
def languages() -> frozenset[str]:
    """ISO 639-1 language codes, from babel's CLDR language list."""
    from babel import Locale

    return frozenset(
        code for code in Locale("en").languages if isinstance(code, str) and len(code) == 2 and code.isalpha()
    )


def language_code(value: Any) -> str:
    """An ISO 639-1 language code, lower-cased (attributes object)."""
    return _code_in(
        value,
        languages(),
        upper=False,
        names="an ISO 639-1 language code",
        examples="en, fr or ja",
        must_be="a two-letter language code such as en",
    )


@cache
def time_zones() -> dict[str, str]:
    """IANA time zone names, keyed lower-cased so a wrong case can be pointed out."""
    import zoneinfo

    return {name.lower(): name for name in zoneinfo.available_timezones()}


def time_zone_name(value: Any) -> str:
    """An IANA time zone name such as ``America/New_York`` (attributes object)."""
    if not isinstance(value, str):
        raise Invalid(f"is {type_name(value)}; it must be an IANA time zone name such as America/New_York")
    name = value.strip()
    known = time_zones().get(name.lower())
    if known == name:
        return name
    if known:
        raise Invalid(f"{show(value)} is not spelled as the IANA time zone name {known!r}")
    raise Invalid(f"{show(value)} is not an IANA time zone name such as America/New_York")


def choice(value: Any, allowed: tuple[str, ...], *, upper: bool = False) -> str:
    """One of a fixed set of Braze spellings, matched without regard to case."""
    if isinstance(value, str):
        candidate = value.strip().upper() if upper else value.strip().lower()
        if candidate in allowed:
            return candidate
    raise Invalid(f"{show(value)} is not one of {', '.join(allowed)}")


def custom_attribute_key_problem(key: str) -> str | None:
    """Why Braze would refuse ``key`` as a custom attribute name, or ``None`` (attributes object)."""
    if not key:
        return "is an empty column name, which Braze cannot use as an attribute name"
    if len(key) > MAX_TEXT:
        return f"is a column name of {len(key)} characters; Braze attribute names hold at most {MAX_TEXT}"
    if key.startswith("$"):
        return "starts with '$', which Braze reserves for its operators; rename the column"
    return _text_problem(key, "column name")


def property_key_problem(key: Any) -> str | None:
    """Why Braze would refuse ``key`` as an event or purchase property name, or ``None`` (event object)."""
    if not isinstance(key, str):
        return f"property name {show(key)} is not text"
    if not key:
        return "property names must not be empty"
    if len(key) > MAX_TEXT:
        return f"property name of {len(key)} characters is above Braze's limit of {MAX_TEXT}"
    if key.startswith("$"):
        return f"property name {show(key)} starts with '$', which Braze does not allow"
    if key in RESERVED_PROPERTY_KEYS:
        return f"property name {key!r} is reserved by Braze and causes an API error"
    return _text_problem(key, "property name")


def nested_key_problem(key: Any) -> str | None:
    """Why Braze would refuse ``key`` inside a nested custom attribute, or ``None`` (attributes object)."""
    if not isinstance(key, str):
        return "keys must be text"
    if len(key) > MAX_TEXT:
        return f"keys hold at most {MAX_TEXT} characters"
    for character, name in ((".", "'.'"), ("$", "'$'"), (" ", "spaces")):
        if character in key:
            return f"keys must not contain {name}"
    return _text_problem(key, "keys")


def _text_problem(key: str, what: str) -> str | None:
    """Why a name is no text Braze can store (a NUL, a lone surrogate), or ``None``."""
    try:
        checked_text(key)
    except Invalid as exc:
        return f"{what} {exc}"
    return None


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON, the way the body is sent."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
