"""The date formats Braze accepts, parsed the way the sandbox checks them.

Braze lists its formats in the user attributes object page
(https://www.braze.com/docs/api/objects_filters/user_attributes_object/): ISO 8601,
``yyyy-MM-ddTHH:mm:ss:SSSZ``, ``yyyy-MM-ddTHH:mm:ss``, ``yyyy-MM-dd HH:mm:ss``, ``yyyy-MM-dd``,
``MM/dd/yyyy`` and ``ddd MM dd HH:mm:ss.TZD YYYY``. A time without a zone is UTC. Events accept only
ISO 8601 and the ``:SSSZ`` form (https://www.braze.com/docs/api/objects_filters/event_object/); purchases only ISO 8601
(https://www.braze.com/docs/api/objects_filters/purchase_object/).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_ISO = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?"
    r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
# Braze's own "yyyy-MM-dd'T'HH:mm:ss:SSSZ": milliseconds after a colon, then Z or an offset.
_COLON_MILLIS = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})T(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2}):(?P<frac>\d{3})"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})$"
)
_US_DATE = re.compile(r"^(?P<mo>\d{2})/(?P<d>\d{2})/(?P<y>\d{4})$")
_RUBY = re.compile(
    r"^[A-Za-z]{3} (?P<mo>\d{2}) (?P<d>\d{2}) (?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})"
    r"\.(?P<tz>Z|[+-]\d{2}:?\d{2}) (?P<y>\d{4})$"
)

#: Years outside this range are not dates for Braze (stored as strings, or not at all when nested).
MIN_YEAR, MAX_YEAR = 0, 3000


def _zone(raw: str | None) -> timezone:
    if not raw or raw == "Z":
        return timezone.utc
    sign = -1 if raw[0] == "-" else 1
    digits = raw[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _build(m: re.Match) -> datetime | None:
    parts = m.groupdict()
    year = int(parts["y"])
    if not MIN_YEAR < year <= MAX_YEAR:
        return None
    frac = (parts.get("frac") or "0")[:6].ljust(6, "0")
    try:
        return datetime(
            year,
            int(parts["mo"]),
            int(parts["d"]),
            int(parts.get("h") or 0),
            int(parts.get("mi") or 0),
            int(parts.get("s") or 0),
            int(frac),
            tzinfo=_zone(parts.get("tz")),
        ).astimezone(timezone.utc)
    except ValueError:
        return None


def parse_iso8601(value: object) -> datetime | None:
    """An ISO 8601 date or date-time as an aware UTC datetime, or ``None`` when it is not one."""
    if not isinstance(value, str):
        return None
    m = _ISO.match(value.strip())
    return _build(m) if m else None


def parse_event_time(value: object) -> datetime | None:
    """An event ``time``: ISO 8601 or Braze's ``yyyy-MM-dd'T'HH:mm:ss:SSSZ``."""
    if not isinstance(value, str):
        return None
    m = _COLON_MILLIS.match(value.strip())
    return _build(m) if m else parse_iso8601(value)


def parse_attribute_date(value: object) -> datetime | None:
    """Any of the date formats Braze accepts for attributes (and ``$time`` in nested objects)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    for pattern in (_COLON_MILLIS, _US_DATE, _RUBY):
        m = pattern.match(text)
        if m:
            return _build(m)
    return parse_iso8601(text)


def parse_day(value: object) -> datetime | None:
    """A ``YYYY-MM-DD`` query parameter as midnight UTC (the way Braze reads ``start_date``/``end_date``)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    return parse_iso8601(value)


def accepted(moment: datetime | None) -> datetime:
    """A time that request validation already parsed: its second parse cannot fail."""
    if moment is None:
        raise ValueError("a time that passed validation no longer parses")
    return moment


def iso(moment: datetime | float) -> str:
    """ISO 8601 in UTC with a ``Z`` (what Braze returns), from a datetime or epoch seconds."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
