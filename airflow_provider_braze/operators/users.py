"""Export operators for Braze's user-data endpoints, one per Treasure Data export mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from airflow_provider_braze.operators.export_base import BrazeExportBaseOperator
from airflow_provider_braze.records import Mode, RecordBuilder, get_builder


class BrazeTrackUsersOperator(BrazeExportBaseOperator):
    """Send rows to Braze's `/users/track` as attributes, custom events or purchases.

    Treasure Data's "User - Track" mode. Each row becomes one object; 75 objects per array go in one
    request (50 in all on MAU contracts, see the connection's ``users_track_max_objects``).

    Column contract (see the README for the full table):

    * ``attributes``: an identifier (``external_id``, ``braze_id``, ``email``, ``phone``, or
      ``user_alias_name`` + ``user_alias_label``); every other column is an attribute.
    * ``events``: identifier, ``name``, ``time``; optional ``properties``, ``app_id``; other
      columns become properties.
    * ``purchases``: identifier, ``product_id``, ``currency``, ``price``, ``time``; optional
      ``quantity`` (1-100), ``properties``, ``app_id``.

    .. seealso:: https://www.braze.com/docs/api/endpoints/user_data/post_user_track

    :param record_type: ``attributes``, ``events`` or ``purchases`` (Treasure Data's
        ``User Profile Attributes``, ``Custom Events``, ``Purchases`` too).
    :param null_handling: attributes only: ``skip`` (the default) leaves NULL columns out; ``unset``
        sends them as null, which removes the attribute in Braze.
    :param update_existing_only: ``_update_existing_only`` for every object, unless a column of
        that name says otherwise for a row.
    :param merge_objects: attributes only: ``_merge_objects`` for nested-object updates.
    """

    template_fields: Sequence[str] = (*BrazeExportBaseOperator.template_fields, "record_type")

    def __init__(
        self,
        *,
        record_type: str = "attributes",
        null_handling: str | None = None,
        update_existing_only: bool | None = None,
        merge_objects: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.record_type = record_type
        self.null_handling = null_handling
        self.update_existing_only = update_existing_only
        self.merge_objects = merge_objects
        self.check_builder("record_type")

    def record_builder(self) -> RecordBuilder:
        # The record type's builder says which options it takes; one it does not take is an error.
        return get_builder(
            Mode.TRACK,
            self.record_type,
            pre_formatted_fields=self.pre_formatted_fields,
            null_handling=self.null_handling,
            update_existing_only=self.update_existing_only,
            merge_objects=self.merge_objects,
        )


class BrazeNewAliasOperator(BrazeExportBaseOperator):
    """Create user aliases with `/users/alias/new` (Treasure Data's "User - New Alias").

    Columns: ``alias_name``, ``alias_label``, and optionally ``external_id`` (adds the alias to that
    existing user; without it, Braze creates an alias-only user). 50 aliases per request.

    .. seealso:: https://www.braze.com/docs/api/endpoints/user_data/post_user_alias
    """

    def record_builder(self) -> RecordBuilder:
        return get_builder(Mode.NEW_ALIAS, pre_formatted_fields=self.pre_formatted_fields)


class _PrioritizedExportOperator(BrazeExportBaseOperator):
    """An export whose email and phone rows need Braze's ``prioritization`` (identify, delete)."""

    #: The mode whose builder makes the rows' objects.
    export_mode: ClassVar[Mode]

    template_fields: Sequence[str] = (*BrazeExportBaseOperator.template_fields, "prioritization")

    def __init__(self, *, prioritization: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prioritization = prioritization
        self.check_builder("prioritization")

    def record_builder(self) -> RecordBuilder:
        return get_builder(
            self.export_mode, pre_formatted_fields=self.pre_formatted_fields, prioritization=self.prioritization
        )


class BrazeIdentifyUsersOperator(_PrioritizedExportOperator):
    """Merge alias-, email- or phone-only users into identified ones with `/users/identify`.

    Treasure Data's "User - Identify". Columns: ``external_id`` plus either ``alias_name`` +
    ``alias_label``, or ``email``, or ``phone``; ``prioritization`` may be a column. 50 per request.

    .. seealso:: https://www.braze.com/docs/api/endpoints/user_data/post_user_identify

    :param prioritization: for email and phone rows, which profile wins when several match
        (Braze's values ``identified``, ``unidentified``, ``most_recently_updated``,
        ``least_recently_updated``); default ``["unidentified", "most_recently_updated"]``.
    """

    export_mode = Mode.IDENTIFY


class BrazeDeleteUsersOperator(_PrioritizedExportOperator):
    """Delete users with `/users/delete` (Treasure Data's "User - Delete"). Irreversible.

    Each row names one user by exactly one of ``external_id``, ``braze_id``, ``email``, ``phone`` or
    ``alias_name`` + ``alias_label``. Requests carry one identifier type each, 50 per request.

    .. seealso:: https://www.braze.com/docs/api/endpoints/user_data/post_user_delete

    :param prioritization: for email rows, which profile is deleted when several share the email.
    """

    export_mode = Mode.DELETE
