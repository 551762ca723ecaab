"""The export modes and ``/users/track`` record types, by their canonical names.

Each record builder declares which of them it serves (see :class:`~airflow_provider_braze.records.builder.RowBuilder`);
:mod:`airflow_provider_braze.records.modes` reads those declarations to parse spellings and pick builders.
"""

from __future__ import annotations

from enum import Enum


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
