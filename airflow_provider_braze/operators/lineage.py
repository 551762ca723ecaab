"""OpenLineage for exports: the source read (table, query or file) and the Braze workspace written.

Imported only when the OpenLineage provider asks for lineage, so it stays an optional extra.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def export_lineage(operator: Any) -> Any:
    """Build ``OperatorLineage`` for a finished export operator."""
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_braze.hooks.braze import BrazeHook

    hook = BrazeHook(braze_conn_id=operator.braze_conn_id)
    braze_host = urlsplit(hook.base_url).netloc
    endpoint = hook.endpoint(operator.record_builder().endpoint)
    outputs = [Dataset(namespace=f"braze://{braze_host}", name=endpoint.path.lstrip("/"))]
    return OperatorLineage(inputs=_inputs(operator, Dataset), outputs=outputs)


def _inputs(operator: Any, dataset: type) -> list[Any]:
    if operator.path:
        parts = urlsplit(operator.path)
        if parts.scheme:
            return [dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path.lstrip("/"))]
        return [dataset(namespace="file", name=operator.path)]
    if operator.sql:
        return _sql_inputs(operator, dataset)
    return []


def _sql_inputs(operator: Any, dataset: type) -> list[Any]:
    """The tables the query reads, as the OpenLineage SQL parser sees them."""
    from airflow.providers.openlineage.sqlparser import SQLParser
    from airflow.sdk import BaseHook

    sql_hook = BaseHook.get_connection(operator.sql_conn_id).get_hook()
    database_info = sql_hook.get_openlineage_database_info(sql_hook.get_connection(operator.sql_conn_id))
    if database_info is None:
        return []
    parser = SQLParser(dialect=sql_hook.get_openlineage_database_dialect(sql_hook.get_connection(operator.sql_conn_id)))
    metadata = parser.generate_openlineage_metadata_from_sql(
        sql=operator.sql, hook=sql_hook, database_info=database_info, use_connection=False
    )
    return list(metadata.inputs)
