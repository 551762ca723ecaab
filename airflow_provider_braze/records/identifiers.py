"""User identifiers: which columns name a Braze user, and how they are read.

``/users/track`` objects name their user by ``external_id``, ``braze_id``, ``email``, ``phone`` or
``user_alias`` (https://www.braze.com/docs/api/endpoints/user_data/post_user_track). In a row the alias
is two columns, ``user_alias_name`` and ``user_alias_label``, so that ``alias_name``/``alias_label``
keep their meaning as profile fields; JSON sources may instead give a ``user_alias`` column holding
Braze's object itself. The identity endpoints (alias, identify, delete) use ``alias_name`` and
``alias_label`` directly, as their request objects do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_braze.records.builder import RowBuilder, RowError
from airflow_provider_braze.records.values import Invalid, parse_json, to_text, type_name

#: Identifier columns of ``/users/track`` objects, in Braze's own names.
TRACK_IDENTIFIERS = ("external_id", "braze_id", "email", "phone")
#: The two columns that together form a ``user_alias`` identifier in track modes.
USER_ALIAS_NAME = "user_alias_name"
USER_ALIAS_LABEL = "user_alias_label"
#: A column already holding Braze's ``{"alias_name", "alias_label"}`` object (JSON sources).
USER_ALIAS = "user_alias"
#: Every column :class:`TrackIdentity` reads; none of them is an attribute or a property.
TRACK_IDENTITY_COLUMNS = frozenset({*TRACK_IDENTIFIERS, USER_ALIAS_NAME, USER_ALIAS_LABEL, USER_ALIAS})
_ACCEPTED = "external_id, braze_id, email, phone, or user_alias_name with user_alias_label"

#: ``prioritization`` values ``/users/identify`` accepts (4) and ``/users/delete`` accepts (5).
IDENTIFY_PRIORITIES = ("identified", "unidentified", "most_recently_updated", "least_recently_updated")
DELETE_PRIORITIES = ("identified", "unidentified", "most_recently_updated")
#: Default ``prioritization``: these endpoints exist to reach the *unidentified* (email-only or
#: phone-only) profile, and ``most_recently_updated`` breaks a tie instead of matching nothing,
#: since Braze acts on no one when more than one user still matches. It is also Braze's own example.
DEFAULT_PRIORITIZATION = ("unidentified", "most_recently_updated")

# Deliberately loose: Braze is the judge of deliverability; this catches columns that hold
# something other than an address (a name, an id, two addresses).
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
# Braze keeps the digits and a leading + and drops formatting ("+1 (724) 123-4567" is +17241234567):
# https://www.braze.com/docs/user_guide/message_building_by_channel/sms_mms_rcs/user_phone_numbers/
_PHONE = re.compile(r"\+?[0-9 ().\-]+\Z", re.ASCII)


#: The longest identifier this provider sends (a decision of its own: Braze's pages set no limit,
#: and an "id" of thousands of characters is another column read by mistake far more often).
MAX_IDENTIFIER = 512


def identifier(value: Any) -> str:
    """An ``external_id`` or ``braze_id``: text (SQL integer ids become digits), not blank, at most
    :data:`MAX_IDENTIFIER` characters."""
    text = to_text(value)
    if not text.strip():
        raise Invalid("is blank")
    if len(text) > MAX_IDENTIFIER:
        raise Invalid(
            f"is {len(text):,} characters long; identifiers longer than {MAX_IDENTIFIER} are refused "
            "as a column mix-up (Braze's pages set no limit)"
        )
    return text


def email_address(value: Any) -> str:
    """An email address, without surrounding spaces. Reasons never quote it (personal data)."""
    text = to_text(value).strip()
    if not _EMAIL.match(text):
        raise Invalid("is not an email address (expected name@domain)")
    return text


def phone_number(value: Any) -> str:
    """A phone number as text, without surrounding spaces. Reasons never quote it (personal data).

    Braze recommends E.164 (``+14155550100``) and does not require it, so national formatting
    (``(415) 555-0100``) passes; what is refused is text that is no phone number at all: letters,
    or fewer than 7 or more than 15 digits (E.164's maximum).
    """
    text = to_text(value).strip()
    if not text:
        raise Invalid("is blank")
    if not _PHONE.match(text):
        raise Invalid(
            "is not a phone number (expected digits, optionally with + and spaces, dashes, dots or parentheses)"
        )
    digits = sum(c.isdigit() for c in text)
    if not 7 <= digits <= 15:
        raise Invalid(f"has {digits} digits; a phone number has 7 to 15 (E.164)")
    return text


IDENTIFIER_RULES = {"external_id": identifier, "braze_id": identifier, "email": email_address, "phone": phone_number}


def prioritization(value: Any, allowed: tuple[str, ...]) -> list[str]:
    """An ordered ``prioritization`` list from a list, JSON text, or comma-separated text.

    :param allowed: the values the endpoint accepts.
    :raises Invalid: for unknown, repeated or contradicting values.
    """
    if isinstance(value, str):
        stripped = value.strip()
        value = parse_json(stripped) if stripped.startswith("[") else stripped.split(",")
    if not isinstance(value, (list, tuple)):
        raise Invalid(f"is {type_name(value)}; it must be a list such as unidentified,most_recently_updated")
    items = [item.strip().lower() if isinstance(item, str) else item for item in value]
    if not items:
        raise Invalid("is empty; give at least one of " + ", ".join(allowed))
    for item in items:
        if item not in allowed:
            raise Invalid(f"holds {item!r}, which is not one of {', '.join(allowed)}")
    if len(set(items)) != len(items):
        raise Invalid("repeats a value")
    if "identified" in items and "unidentified" in items:
        raise Invalid("holds both identified and unidentified; Braze allows only one of them")
    return items


def checked_prioritization(value: Any, allowed: tuple[str, ...]) -> list[str]:
    """A ``prioritization`` builder option, validated when the builder is made."""
    try:
        return prioritization(value, allowed)
    except Invalid as exc:
        raise ValueError(f"prioritization {exc}") from None


def alias_pair(
    builder: RowBuilder, row: Mapping[str, Any], name_column: str, label_column: str
) -> dict[str, str] | None:
    """A ``{"alias_name", "alias_label"}`` object from two columns; ``None`` when both are empty.

    :raises RowError: when only one of the two is given.
    """
    name = builder.value(row, name_column, _alias_text) if name_column in row else None
    label = builder.value(row, label_column, _alias_text) if label_column in row else None
    if name is None and label is None:
        return None
    if label is None:
        raise RowError(label_column, f"{label_column} is required with {name_column} (a user alias needs both)")
    if name is None:
        raise RowError(name_column, f"{name_column} is required with {label_column} (a user alias needs both)")
    return {"alias_name": name, "alias_label": label}


def _alias_text(value: Any) -> str:
    return identifier(value)


def user_alias_object(value: Any) -> dict[str, str]:
    """A ``user_alias`` column: ``{"alias_name", "alias_label"}`` as an object or JSON text."""
    if isinstance(value, str):
        value = parse_json(value)
    if not isinstance(value, Mapping) or set(value) != {"alias_name", "alias_label"}:
        raise Invalid('must be an object {"alias_name": ..., "alias_label": ...}')
    try:
        return {"alias_name": _alias_text(value["alias_name"]), "alias_label": _alias_text(value["alias_label"])}
    except Invalid as exc:
        raise Invalid(f"has an alias_name or alias_label that {exc}") from None


class PrioritizedBuilder(RowBuilder):
    """A builder whose email and phone rows carry Braze's ``prioritization`` (identify, delete).

    :param prioritization: the default order, checked against the subclass's :attr:`priorities`.
    :param pre_formatted_fields: columns holding JSON text.
    :param empty_as_null: treat ``""`` as a missing value.
    """

    #: The ``prioritization`` values the endpoint accepts.
    priorities: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        prioritization: str | Iterable[str] = DEFAULT_PRIORITIZATION,
        pre_formatted_fields: str | Iterable[str] | None = None,
        empty_as_null: bool = True,
    ) -> None:
        super().__init__(pre_formatted_fields=pre_formatted_fields, empty_as_null=empty_as_null)
        self.prioritization = checked_prioritization(prioritization, self.priorities)


class TrackIdentity:
    """The identifier columns of one column set, for ``/users/track`` objects.

    :param builder: the builder reading rows (for missing values and ``pre_formatted_fields``).
    :param columns: the column set.
    """

    def __init__(self, builder: RowBuilder, columns: Iterable[str]) -> None:
        columns = tuple(columns)
        self.builder = builder
        self.readers = tuple(
            (column, builder.reader(column, IDENTIFIER_RULES[column]))
            for column in TRACK_IDENTIFIERS
            if column in columns
        )
        self.alias = USER_ALIAS_NAME in columns or USER_ALIAS_LABEL in columns
        self.alias_object = USER_ALIAS in columns
        self.missing_reason = f"the row has no identifier: give {_ACCEPTED}" + _hint(columns)

    def read(self, row: Mapping[str, Any], obj: dict[str, Any]) -> None:
        """Put the row's identifiers into ``obj``; reject the row when it has none.

        :raises RowError: for a bad identifier value, a half alias, or no identifier at all.
        """
        found = False
        for column, convert in self.readers:
            value = self.builder.value(row, column, convert)
            if value is not None:
                obj[column] = value
                found = True
        if self.alias:
            alias = alias_pair(self.builder, row, USER_ALIAS_NAME, USER_ALIAS_LABEL)
            if alias is not None:
                obj[USER_ALIAS] = alias
                found = True
        if self.alias_object:
            alias = self.builder.value(row, USER_ALIAS, user_alias_object)
            if alias is not None:
                if obj.get(USER_ALIAS, alias) != alias:
                    raise RowError(
                        USER_ALIAS, f"{USER_ALIAS} differs from {USER_ALIAS_NAME}/{USER_ALIAS_LABEL}; give one alias"
                    )
                obj[USER_ALIAS] = alias
                found = True
        if not found:
            raise RowError(None, self.missing_reason)


def _hint(columns: tuple[str, ...]) -> str:
    known = TRACK_IDENTITY_COLUMNS
    for column in columns:
        if column not in known and column.lower() in known:
            # Snowflake and Oracle return unquoted names in upper case.
            return f" (column {column!r} looks like {column.lower()!r}; Braze's names are lower case, so alias it)"
    if "alias_name" in columns or "alias_label" in columns:
        return " (alias_name and alias_label are profile fields here; name them user_alias_name and user_alias_label)"
    return ""
