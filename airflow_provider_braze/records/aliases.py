"""User aliases: ``/users/alias/new`` and ``/users/identify`` objects.

.. seealso:: https://www.braze.com/docs/api/endpoints/user_data/post_user_alias,
    https://www.braze.com/docs/api/endpoints/user_data/post_user_identify

Columns other than the ones named here are ignored, so a query may carry extra columns
(for logging or joins) without harm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_braze.records.builder import RowBuilder, RowError, required
from airflow_provider_braze.records.identifiers import (
    IDENTIFY_PRIORITIES,
    PrioritizedBuilder,
    alias_pair,
    email_address,
    identifier,
    phone_number,
    prioritization,
)
from airflow_provider_braze.records.kinds import Mode


class NewAliasBuilder(RowBuilder):
    """Rows to ``/users/alias/new`` ``user_aliases`` objects.

    Columns: ``alias_name`` and ``alias_label`` (required), ``external_id`` (optional: with it the
    alias is added to that existing user, without it Braze creates an alias-only user).

    :param pre_formatted_fields: accepted for symmetry with the other modes; no column here is JSON.
    :param empty_as_null: treat ``""`` as a missing value.
    """

    mode = Mode.NEW_ALIAS
    td_modes = ("User - New Alias",)
    endpoint = "users/alias/new"
    key = "user_aliases"

    def plan(self, columns: tuple[str, ...]) -> bool:
        return "external_id" in columns

    def make(self, row: Mapping[str, Any], has_external_id: bool) -> tuple[str, Any]:
        alias = alias_pair(self, row, "alias_name", "alias_label")
        if alias is None:
            raise RowError(
                "alias_name", "alias_name and alias_label are required to create an alias, but the row has neither"
            )
        if has_external_id:
            external_id = self.value(row, "external_id", identifier)
            if external_id is not None:
                alias["external_id"] = external_id
        return self.key, alias


_IDENTIFY_BY = (
    ("alias", "aliases_to_identify"),
    ("email", "emails_to_identify"),
    ("phone", "phone_numbers_to_identify"),
)


class IdentifyBuilder(PrioritizedBuilder):
    """Rows to ``/users/identify`` objects: which unidentified profile becomes which ``external_id``.

    Columns: ``external_id`` (required) and exactly one of ``alias_name`` with ``alias_label``
    (``aliases_to_identify``), ``email`` (``emails_to_identify``) or ``phone``
    (``phone_numbers_to_identify``); ``prioritization`` (a JSON array or comma-separated text)
    overrides the option for email and phone rows.

    :param prioritization: the order Braze uses to pick among profiles sharing an email or phone:
        values from ``identified``, ``unidentified``, ``most_recently_updated``,
        ``least_recently_updated``; not both ``identified`` and ``unidentified``. The default,
        ``["unidentified", "most_recently_updated"]``, targets the anonymous profile that
        identification exists to merge, and picks the latest one rather than none when several match.
    :param pre_formatted_fields: columns holding JSON text.
    :param empty_as_null: treat ``""`` as a missing value.
    """

    mode = Mode.IDENTIFY
    td_modes = ("User - Identify", "User - Identifying")
    endpoint = "users/identify"

    priorities = IDENTIFY_PRIORITIES

    def plan(self, columns: tuple[str, ...]) -> Any:
        return self.reader("prioritization", _identify_prioritization) if "prioritization" in columns else None

    def make(self, row: Mapping[str, Any], prioritization_reader: Any) -> tuple[str, Any]:
        external_id = required(self, row, "external_id", identifier, "the user the profile is identified as")
        found = {
            "alias": alias_pair(self, row, "alias_name", "alias_label"),
            "email": self.value(row, "email", email_address) if "email" in row else None,
            "phone": self.value(row, "phone", phone_number) if "phone" in row else None,
        }
        given = [name for name, value in found.items() if value is not None]
        if not given:
            raise RowError(None, "the row has no one to identify: give alias_name with alias_label, email, or phone")
        if len(given) > 1:
            columns = ", ".join("alias_name/alias_label" if name == "alias" else name for name in given)
            raise RowError(
                None,
                "the row is ambiguous: it names the profile to identify by more than one identifier "
                f"({columns}); keep one per row",
            )
        by = given[0]
        key = dict(_IDENTIFY_BY)[by]
        if by == "alias":
            return key, {"external_id": external_id, "user_alias": found["alias"]}
        order = self.value(row, "prioritization", prioritization_reader) if prioritization_reader else None
        return key, {"external_id": external_id, by: found[by], "prioritization": order or list(self.prioritization)}


def _identify_prioritization(value: Any) -> list[str]:
    return prioritization(value, IDENTIFY_PRIORITIES)
