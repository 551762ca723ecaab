"""Export modes, their spellings, and the builder and endpoint each one uses.

The canonical names are short (``new_alias``, ``identify``, ``track``, ``delete``; record types
``attributes``, ``events``, ``purchases``). Treasure Data's connector spellings (``User - Track``,
``Custom Events`` ...) are accepted too, in any case, so a DAG can keep a TD job's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar

from airflow_provider_braze.records.aliases import IdentifyBuilder, NewAliasBuilder
from airflow_provider_braze.records.attributes import AttributesBuilder
from airflow_provider_braze.records.builder import RecordBuilder
from airflow_provider_braze.records.delete import DeleteBuilder
from airflow_provider_braze.records.events import EventsBuilder, PurchasesBuilder


class Mode(str, Enum):
    """An export mode: which Braze endpoint the rows go to."""

    NEW_ALIAS = "new_alias"
    IDENTIFY = "identify"
    TRACK = "track"
    DELETE = "delete"


class RecordType(str, Enum):
    """What a ``track`` row becomes: one ``/users/track`` body array."""

    ATTRIBUTES = "attributes"
    EVENTS = "events"
    PURCHASES = "purchases"


#: Accepted spellings, lower-cased with single spaces: canonical names and Treasure Data's.
MODE_SPELLINGS: dict[str, Mode] = {
    "new_alias": Mode.NEW_ALIAS,
    "user - new alias": Mode.NEW_ALIAS,
    "identify": Mode.IDENTIFY,
    "user - identify": Mode.IDENTIFY,
    "user - identifying": Mode.IDENTIFY,
    "track": Mode.TRACK,
    "user - track": Mode.TRACK,
    "delete": Mode.DELETE,
    "user - delete": Mode.DELETE,
}
RECORD_TYPE_SPELLINGS: dict[str, RecordType] = {
    "attributes": RecordType.ATTRIBUTES,
    "attribute": RecordType.ATTRIBUTES,
    "user profile attributes": RecordType.ATTRIBUTES,
    "events": RecordType.EVENTS,
    "event": RecordType.EVENTS,
    "custom events": RecordType.EVENTS,
    "purchases": RecordType.PURCHASES,
    "purchase": RecordType.PURCHASES,
}

#: The catalogue name (``braze.endpoints.CATALOGUE`` key) each mode sends to.
ENDPOINTS: dict[Mode, str] = {
    Mode.NEW_ALIAS: "users/alias/new",
    Mode.IDENTIFY: "users/identify",
    Mode.TRACK: "users/track",
    Mode.DELETE: "users/delete",
}

_TD_MODES = ("User - New Alias", "User - Identify", "User - Identifying", "User - Track", "User - Delete")
_TD_RECORD_TYPES = ("User Profile Attributes", "Custom Events", "Purchases")


def _spelling(value: str) -> str:
    return " ".join(value.split()).lower()


_E = TypeVar("_E", bound=Enum)


def _parse(
    value: str | _E, kind: type[_E], spellings: Mapping[str, _E], td_spellings: Sequence[str], what: str, plural: str
) -> _E:
    """The member of ``kind`` that ``value`` spells; a :class:`ValueError` listing every valid spelling if none."""
    if isinstance(value, kind):
        return value
    found = spellings.get(_spelling(value)) if isinstance(value, str) else None
    if found is None:
        valid = ", ".join([*(member.value for member in kind), *td_spellings])
        raise ValueError(f"Unknown {what} {value!r}; valid {plural}: {valid}")
    return found


def parse_mode(mode: str | Mode) -> Mode:
    """The :class:`Mode` for a canonical or Treasure Data spelling, in any case.

    :raises ValueError: listing the valid spellings.
    """
    return _parse(mode, Mode, MODE_SPELLINGS, _TD_MODES, "Braze export mode", "modes")


def parse_record_type(record_type: str | RecordType) -> RecordType:
    """The :class:`RecordType` for a canonical, singular or Treasure Data spelling, in any case.

    :raises ValueError: listing the valid spellings.
    """
    return _parse(record_type, RecordType, RECORD_TYPE_SPELLINGS, _TD_RECORD_TYPES, "track record type", "record types")


def endpoint_for(mode: str | Mode) -> str:
    """The catalogue name of the endpoint a mode sends to (``users/track`` for ``User - Track``)."""
    return ENDPOINTS[parse_mode(mode)]


_BUILDERS: dict[tuple[Mode, RecordType | None], type] = {
    (Mode.NEW_ALIAS, None): NewAliasBuilder,
    (Mode.IDENTIFY, None): IdentifyBuilder,
    (Mode.DELETE, None): DeleteBuilder,
    (Mode.TRACK, RecordType.ATTRIBUTES): AttributesBuilder,
    (Mode.TRACK, RecordType.EVENTS): EventsBuilder,
    (Mode.TRACK, RecordType.PURCHASES): PurchasesBuilder,
}


def get_builder(mode: str | Mode, record_type: str | RecordType | None = None, **options: Any) -> RecordBuilder:
    """The record builder for an export mode.

    :param mode: ``new_alias``, ``identify``, ``track``, ``delete``, or a Treasure Data spelling.
    :param record_type: for ``track`` only (required there): ``attributes``, ``events``,
        ``purchases``, or ``User Profile Attributes``, ``Custom Events``, ``Purchases``.
    :param options: the builder's keyword options, such as ``pre_formatted_fields``,
        ``null_handling``, ``update_existing_only``, ``prioritization``.
    :raises ValueError: for an unknown mode or record type, a missing or misplaced record type.
    :raises TypeError: for an option the builder does not take.
    """
    parsed = parse_mode(mode)
    if parsed is Mode.TRACK:
        if record_type is None:
            raise ValueError(
                "Braze export mode 'track' needs a record_type: attributes, events or purchases "
                "(or User Profile Attributes, Custom Events, Purchases)"
            )
        kind: RecordType | None = parse_record_type(record_type)
    elif record_type is not None:
        raise ValueError(f"record_type applies only to the 'track' mode, not to {parsed.value!r}")
    else:
        kind = None
    return _BUILDERS[parsed, kind](**options)
