"""Export modes, their spellings, and the builder and endpoint each one uses.

The canonical names are short (``new_alias``, ``identify``, ``track``, ``delete``; record types
``attributes``, ``events``, ``purchases``). Treasure Data's connector spellings (``User - Track``,
``Custom Events`` ...) are accepted too, in any case, so a DAG can keep a TD job's parameters.

Every table here is read from the builders' own declarations (:attr:`RowBuilder.mode`,
:attr:`~RowBuilder.record_type`, :attr:`~RowBuilder.td_modes`, :attr:`~RowBuilder.td_record_type`,
:attr:`~RowBuilder.endpoint`, and the constructor's keyword options): a new mode is one builder
class and its line in :data:`BUILDERS`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar

from airflow_provider_braze.records.aliases import IdentifyBuilder, NewAliasBuilder
from airflow_provider_braze.records.attributes import AttributesBuilder
from airflow_provider_braze.records.builder import RowBuilder
from airflow_provider_braze.records.delete import DeleteBuilder
from airflow_provider_braze.records.events import EventsBuilder, PurchasesBuilder
from airflow_provider_braze.records.kinds import Mode, RecordType

__all__ = [
    "BUILDERS",
    "ENDPOINTS",
    "MODE_SPELLINGS",
    "RECORD_TYPE_SPELLINGS",
    "Mode",
    "RecordType",
    "builder_class",
    "endpoint_for",
    "get_builder",
    "parse_mode",
    "parse_record_type",
]

#: Every export builder, in the order Treasure Data lists its modes (error messages keep it).
BUILDERS: tuple[type[RowBuilder], ...] = (
    NewAliasBuilder,
    IdentifyBuilder,
    AttributesBuilder,
    EventsBuilder,
    PurchasesBuilder,
    DeleteBuilder,
)

_BY_KIND: dict[tuple[Mode, RecordType | None], type[RowBuilder]] = {(b.mode, b.record_type): b for b in BUILDERS}


def _spelling(value: str) -> str:
    return " ".join(value.split()).lower()


def _record_type_names(record_type: RecordType) -> tuple[str, ...]:
    # The canonical plural and its singular ("events", "event"): both read naturally in a DAG.
    return record_type.value, record_type.value.removesuffix("s")


#: Accepted spellings, lower-cased with single spaces: canonical names and Treasure Data's.
MODE_SPELLINGS: dict[str, Mode] = {_spelling(name): b.mode for b in BUILDERS for name in (b.mode.value, *b.td_modes)}
RECORD_TYPE_SPELLINGS: dict[str, RecordType] = {
    _spelling(name): b.record_type
    for b in BUILDERS
    if b.record_type is not None
    for name in (*_record_type_names(b.record_type), b.td_record_type or b.record_type.value)
}

#: The catalogue name (``braze.endpoints.CATALOGUE`` key) each mode sends to.
ENDPOINTS: dict[Mode, str] = {b.mode: b.endpoint for b in BUILDERS}

# Treasure Data's spellings, shown with the canonical names when a spelling is unknown.
_TD_MODES = tuple(dict.fromkeys(name for b in BUILDERS for name in b.td_modes))
_TD_RECORD_TYPES = tuple(b.td_record_type for b in BUILDERS if b.td_record_type)

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


def builder_class(
    mode: str | Mode, record_type: str | RecordType | None = None, *, record_type_argument: str = "record_type"
) -> type[RowBuilder]:
    """The builder class of an export mode (and, under ``track``, record type).

    :param mode: ``new_alias``, ``identify``, ``track``, ``delete``, or a Treasure Data spelling.
    :param record_type: for ``track`` only (required there): ``attributes``, ``events``,
        ``purchases``, or ``User Profile Attributes``, ``Custom Events``, ``Purchases``.
    :param record_type_argument: how the caller names ``record_type`` in its errors
        (``track_record_type`` for Treasure Data's parameters).
    :raises ValueError: for an unknown mode or record type, a missing or misplaced record type.
    """
    parsed = parse_mode(mode)
    if parsed is not Mode.TRACK:
        if record_type is not None:
            raise ValueError(f"{record_type_argument} applies only to the 'track' mode, not to {mode!r}")
        return _BY_KIND[parsed, None]
    if not record_type:
        valid = ", ".join(_TD_RECORD_TYPES)
        raise ValueError(
            f"Braze export mode {mode!r} needs {record_type_argument}: attributes, events or purchases (or {valid})"
        )
    return _BY_KIND[parsed, parse_record_type(record_type)]


@functools.cache
def _options(builder: type[RowBuilder]) -> frozenset[str]:
    # A builder's options are its constructor's keyword parameters: declared once, where they are used.
    return frozenset(
        name
        for name, parameter in inspect.signature(builder).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    )


def get_builder(
    mode: str | Mode,
    record_type: str | RecordType | None = None,
    *,
    record_type_argument: str = "record_type",
    **options: Any,
) -> RowBuilder:
    """The record builder for an export mode, made with the options given.

    An option given as ``None`` counts as not given, so a caller can pass every option it has.

    :param mode: ``new_alias``, ``identify``, ``track``, ``delete``, or a Treasure Data spelling.
    :param record_type: for ``track`` only (required there): ``attributes``, ``events``,
        ``purchases``, or ``User Profile Attributes``, ``Custom Events``, ``Purchases``.
    :param record_type_argument: how the caller names ``record_type`` in its errors.
    :param options: the builder's keyword options, such as ``pre_formatted_fields``,
        ``null_handling``, ``update_existing_only``, ``prioritization``.
    :raises ValueError: for an unknown mode or record type, a missing or misplaced record type, an
        option another mode takes but this one does not.
    :raises TypeError: for an option no builder takes.
    """
    builder = builder_class(mode, record_type, record_type_argument=record_type_argument)
    given = {name: value for name, value in options.items() if value is not None}
    taken = _options(builder)
    known = frozenset().union(*map(_options, BUILDERS))
    misplaced = sorted(name for name in given if name in known and name not in taken)
    if misplaced:
        under = f" with {record_type_argument} {record_type!r}" if builder.record_type is not None else ""
        raise ValueError(f"{', '.join(misplaced)} do not apply to mode {mode!r}{under}.")
    return builder(**given)
