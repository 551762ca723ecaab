"""Record builders: source rows to Braze objects, with Braze's validation rules.

One builder per export mode turns a row (a mapping from a SQL cursor, a CSV file or JSON) into an
:class:`~airflow_provider_braze.braze.items.Item` for the batcher, or a
:class:`~airflow_provider_braze.braze.items.InvalidRecord` naming the column and the reason. Nothing
here imports Airflow, so it can be tested and benchmarked on its own.

    builder = get_builder("User - Track", "Custom Events", pre_formatted_fields="properties")
    for ref, row in enumerate(rows, start=1):
        result = builder.build(row, ref)
"""

from __future__ import annotations

from airflow_provider_braze.records.aliases import IdentifyBuilder, NewAliasBuilder
from airflow_provider_braze.records.attributes import AttributesBuilder
from airflow_provider_braze.records.builder import RecordBuilder, RowBuilder
from airflow_provider_braze.records.delete import DeleteBuilder
from airflow_provider_braze.records.events import EventsBuilder, PurchasesBuilder
from airflow_provider_braze.records.modes import (
    BUILDERS,
    ENDPOINTS,
    Mode,
    RecordType,
    builder_class,
    endpoint_for,
    get_builder,
    parse_mode,
    parse_record_type,
)

__all__ = [
    "BUILDERS",
    "ENDPOINTS",
    "AttributesBuilder",
    "DeleteBuilder",
    "EventsBuilder",
    "IdentifyBuilder",
    "Mode",
    "NewAliasBuilder",
    "PurchasesBuilder",
    "RecordBuilder",
    "RecordType",
    "RowBuilder",
    "builder_class",
    "endpoint_for",
    "get_builder",
    "parse_mode",
    "parse_record_type",
]
