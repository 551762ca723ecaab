"""User attributes: one row becomes one ``/users/track`` attributes object.

.. seealso:: https://www.braze.com/docs/api/objects_filters/user_attributes_object/

Column contract:

- identifiers: ``external_id``, ``braze_id``, ``email``, ``phone``, or ``user_alias_name`` with
  ``user_alias_label`` (sent as ``user_alias``), or a ``user_alias`` column holding that object;
  at least one per row.
- ``_update_existing_only``, ``_merge_objects``, ``push_token_import``: Braze's flags, as columns
  (booleans, or CSV ``true``/``false``/``1``/``0``); a column value beats the builder option.
- a column named like a standard profile field (``first_name``, ``dob``, ``country``,
  ``email_subscribe``, ``subscription_groups`` ...) sets that field, validated;
- every other column is a custom attribute of the same name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_braze.records.builder import Converter, RowBuilder, RowError
from airflow_provider_braze.records.identifiers import TRACK_IDENTITY_COLUMNS, TrackIdentity
from airflow_provider_braze.records.kinds import Mode, RecordType
from airflow_provider_braze.records.nested import custom_value
from airflow_provider_braze.records.profile import PROFILE_FIELDS
from airflow_provider_braze.records.rules import custom_attribute_key_problem
from airflow_provider_braze.records.values import Invalid, show, to_bool

NULL_HANDLING = ("skip", "unset")
UPDATE_EXISTING_ONLY = "_update_existing_only"
MERGE_OBJECTS = "_merge_objects"
PUSH_TOKEN_IMPORT = "push_token_import"  # noqa: S105 - a Braze field name, not a secret
_FLAGS = (UPDATE_EXISTING_ONLY, MERGE_OBJECTS, PUSH_TOKEN_IMPORT)
#: Columns that are never attributes: the identifiers and the per-row flags.
NOT_ATTRIBUTES = TRACK_IDENTITY_COLUMNS | frozenset(_FLAGS)


@dataclass(frozen=True)
class _Plan:
    identity: TrackIdentity
    flags: tuple[tuple[str, Converter | None], ...]
    fields: tuple[tuple[str, Converter, bool], ...]  # column, converter, is custom
    refused: tuple[tuple[str, str], ...]  # columns Braze cannot take as attribute names, and why


class AttributesBuilder(RowBuilder):
    """Rows to ``/users/track`` attributes objects.

    :param null_handling: ``"skip"`` (default) leaves a NULL or empty value out, so Braze keeps
        what it has; ``"unset"`` sends JSON null, which removes the attribute in Braze.
        Identifiers are never unset.
    :param update_existing_only: ``_update_existing_only`` for rows without that column (or with
        it empty); ``None`` sends nothing, and Braze's default applies: create a missing user
        named by ``external_id``, but only update users named by ``user_alias`` (to create an
        alias-only user, pass ``False``).
    :param merge_objects: ``_merge_objects`` for rows without that column: ``True`` merges nested
        objects into what Braze holds instead of replacing them; ``$update`` needs it.
    :param pre_formatted_fields: columns holding JSON text (arrays, objects, typed values).
    :param empty_as_null: treat ``""`` as a missing value (default, as CSV cannot tell them apart).
    """

    mode = Mode.TRACK
    record_type = RecordType.ATTRIBUTES
    td_modes = ("User - Track",)
    td_record_type = "User Profile Attributes"
    endpoint = "users/track"
    key = "attributes"

    def __init__(
        self,
        *,
        null_handling: str = "skip",
        update_existing_only: bool | None = None,
        merge_objects: bool | None = None,
        pre_formatted_fields: str | Iterable[str] | None = None,
        empty_as_null: bool = True,
    ) -> None:
        super().__init__(pre_formatted_fields=pre_formatted_fields, empty_as_null=empty_as_null)
        if null_handling not in NULL_HANDLING:
            raise ValueError(f"null_handling must be one of {', '.join(NULL_HANDLING)}, not {null_handling!r}")
        self.unset_nulls = null_handling == "unset"
        self.defaults = {
            UPDATE_EXISTING_ONLY: _option(update_existing_only, "update_existing_only"),
            MERGE_OBJECTS: _option(merge_objects, "merge_objects"),
            PUSH_TOKEN_IMPORT: None,
        }

    def plan(self, columns: tuple[str, ...]) -> _Plan:
        fields: list[tuple[str, Converter, bool]] = []
        refused = []
        for column in columns:
            if column in NOT_ATTRIBUTES:
                continue
            rule = PROFILE_FIELDS.get(column)
            if rule is None:
                problem = custom_attribute_key_problem(column)
                if problem:
                    refused.append((column, f"column {show(column)} {problem}"))
                    continue
            fields.append((column, self.reader(column, rule or custom_value), rule is None))
        return _Plan(
            identity=TrackIdentity(self, columns),
            flags=tuple((flag, self.reader(flag, to_bool)) for flag in _FLAGS if flag in columns),
            fields=tuple(fields),
            refused=tuple(refused),
        )

    def make(self, row: Mapping[str, Any], plan: _Plan) -> tuple[str, Any]:
        for column, reason in plan.refused:
            if self.unset_nulls or not self.is_missing(row[column]):
                self.fault(column, reason)
        obj: dict[str, Any] = {}
        plan.identity.read(row, obj)
        flags = dict(self.defaults)
        for flag, convert in plan.flags:
            value = self.value(row, flag, convert)
            if value is not None:
                flags[flag] = value
        for flag, value in flags.items():
            if value is not None:
                obj[flag] = value

        empty_as_null = self.empty_as_null
        for column, convert, custom in plan.fields:
            value = row[column]
            if value is None or (empty_as_null and value == ""):
                if self.unset_nulls:
                    obj[column] = None
                continue
            try:
                value = convert(value)
            except Invalid as exc:
                self.fault(column, f"{column} {exc}")
                continue
            if value is None and not self.unset_nulls:
                continue  # JSON null in a pre-formatted column is a missing value too: null_handling decides
            if custom and type(value) is dict and "$update" in value and not flags[MERGE_OBJECTS]:
                raise RowError(
                    column,
                    f"{column} uses $update, which Braze applies only with _merge_objects true; "
                    "add a _merge_objects column or pass merge_objects=True",
                )
            obj[column] = value
        return self.key, obj


def _option(value: bool | None, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"{name} must be True, False or None, not {value!r}")
