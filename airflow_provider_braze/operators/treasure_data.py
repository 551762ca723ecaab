"""BrazeExportOperator: Treasure Data's Braze export connector as one operator, same parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_braze.operators.export_base import BrazeExportBaseOperator, BrazeExportMisconfigured
from airflow_provider_braze.records import RecordBuilder, get_builder


class BrazeExportOperator(BrazeExportBaseOperator):
    """One operator for every mode of Treasure Data's Braze export, with its parameter names.

    Paste a Treasure Data job's settings unchanged: ``mode="User - Track"``,
    ``track_record_type="Custom Events"``, ``pre_formatted_fields="properties"``,
    ``skip_on_invalid_records=True``. It runs exactly what :class:`BrazeTrackUsersOperator`,
    :class:`BrazeNewAliasOperator`, :class:`BrazeIdentifyUsersOperator` and
    :class:`BrazeDeleteUsersOperator` run; the README maps every Treasure Data setting.

    :param mode: ``new_alias``, ``identify``, ``track``, ``delete``, or ``User - New Alias``,
        ``User - Identify`` / ``User - Identifying``, ``User - Track``, ``User - Delete``.
    :param track_record_type: with ``track``: ``attributes``, ``events``, ``purchases``, or
        ``User Profile Attributes``, ``Custom Events``, ``Purchases``.
    :param pre_formated_fields: the older Treasure Data spelling of ``pre_formatted_fields``.
    :param null_handling: see :class:`BrazeTrackUsersOperator` (attributes).
    :param update_existing_only: see :class:`BrazeTrackUsersOperator`.
    :param merge_objects: see :class:`BrazeTrackUsersOperator` (attributes).
    :param prioritization: see :class:`BrazeIdentifyUsersOperator` (identify, delete).
    """

    template_fields: Sequence[str] = (*BrazeExportBaseOperator.template_fields, "mode", "track_record_type")

    def __init__(
        self,
        *,
        mode: str,
        track_record_type: str | None = None,
        pre_formated_fields: Sequence[str] | str | None = None,
        null_handling: str | None = None,
        update_existing_only: bool | None = None,
        merge_objects: bool | None = None,
        prioritization: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if pre_formated_fields is not None and kwargs.get("pre_formatted_fields") is not None:
            raise BrazeExportMisconfigured(
                "Give pre_formatted_fields or its older spelling pre_formated_fields, not both."
            )
        if pre_formated_fields is not None:
            kwargs["pre_formatted_fields"] = pre_formated_fields
        super().__init__(**kwargs)
        self.mode = mode
        self.track_record_type = track_record_type
        self.null_handling = null_handling
        self.update_existing_only = update_existing_only
        self.merge_objects = merge_objects
        self.prioritization = prioritization
        self.check_builder("mode", "track_record_type", "prioritization")

    def record_builder(self) -> RecordBuilder:
        # The builder of the mode says which options it takes; one it does not take is an error.
        return get_builder(
            self.mode,
            self.track_record_type,
            record_type_argument="track_record_type",
            pre_formatted_fields=self.pre_formatted_fields,
            null_handling=self.null_handling,
            update_existing_only=self.update_existing_only,
            merge_objects=self.merge_objects,
            prioritization=self.prioritization,
        )
