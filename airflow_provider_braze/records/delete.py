"""User deletion: one row names one user for ``/users/delete``.

https://www.braze.com/docs/api/endpoints/user_data/post_user_delete/

Braze takes one identifier type per request, so each row names its user by exactly one type and
the item's key tells the batcher which array it belongs to; keeping a request to one key is the
batcher's job (the catalogue marks ``users/delete`` with ``mix_body_keys=False``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_braze.records.builder import RowError
from airflow_provider_braze.records.identifiers import (
    DELETE_PRIORITIES,
    PrioritizedBuilder,
    alias_pair,
    email_address,
    identifier,
    phone_number,
    prioritization,
)
from airflow_provider_braze.records.kinds import Mode

#: Identifier column, the ``/users/delete`` array it goes to, and its rule; in the order reasons list them.
_SINGLE = (
    ("external_id", "external_ids", identifier),
    ("braze_id", "braze_ids", identifier),
    ("email", "email_addresses", email_address),
    ("phone", "phone_numbers", phone_number),
)
_ACCEPTED = "external_id, braze_id, email, phone, or alias_name with alias_label"


class DeleteBuilder(PrioritizedBuilder):
    """Rows to ``/users/delete`` identifiers. Deletion cannot be undone.

    Columns: exactly one of ``external_id`` (``external_ids``), ``braze_id`` (``braze_ids``),
    ``email`` (``email_addresses``, as ``{"email", "prioritization"}``), ``phone``
    (``phone_numbers``, as ``{"phone", "prioritization"}``) or ``alias_name`` with ``alias_label``
    (``user_aliases``) per row; a row naming several is rejected rather than guessed at.
    ``prioritization`` (a JSON array or comma-separated text) overrides the option for email and phone
    rows. Other columns are ignored.

    :param prioritization: which profile to delete when several share an email or a phone number: values from
        ``identified``, ``unidentified``, ``most_recently_updated``; not both ``identified`` and
        ``unidentified``. Braze deletes no one while more than one profile still matches. The
        default, ``["unidentified", "most_recently_updated"]``, is Braze's own example; pass
        ``["identified", "most_recently_updated"]`` to reach the customer's identified profile first.
    :param pre_formatted_fields: columns holding JSON text.
    :param empty_as_null: treat ``""`` as a missing value.
    """

    mode = Mode.DELETE
    td_modes = ("User - Delete",)
    endpoint = "users/delete"

    priorities = DELETE_PRIORITIES

    def plan(self, columns: tuple[str, ...]) -> Any:
        singles = tuple(entry for entry in _SINGLE if entry[0] in columns)
        has_alias = "alias_name" in columns or "alias_label" in columns
        order = self.reader("prioritization", _delete_prioritization) if "prioritization" in columns else None
        return singles, has_alias, order

    def make(self, row: Mapping[str, Any], plan: Any) -> tuple[str, Any]:
        singles, has_alias, order_reader = plan
        found: list[tuple[str, str, Any]] = []
        for column, key, rule in singles:
            value = self.value(row, column, rule)
            if value is not None:
                found.append((column, key, value))
        if has_alias:
            alias = alias_pair(self, row, "alias_name", "alias_label")
            if alias is not None:
                found.append(("alias_name/alias_label", "user_aliases", alias))
        if not found:
            raise RowError(None, f"the row has no user to delete: give one of {_ACCEPTED}")
        if len(found) > 1:
            columns = ", ".join(column for column, _, _ in found)
            raise RowError(
                None,
                f"the row is ambiguous: it names the user by more than one identifier ({columns}); "
                "Braze deletes by one identifier type per request, so keep one per row",
            )
        column, key, value = found[0]
        if column in ("email", "phone"):
            # Braze's newest /users/delete page: "If an email address or phone number is specified as an
            # identifier, an additional prioritization value is required in the identifier."
            order = self.value(row, "prioritization", order_reader) if order_reader else None
            value = {column: value, "prioritization": order or list(self.prioritization)}
        return key, value


def _delete_prioritization(value: Any) -> list[str]:
    return prioritization(value, DELETE_PRIORITIES)
