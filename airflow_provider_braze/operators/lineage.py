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

    conn = BaseHook.get_connection(operator.sql_conn_id)
    sql_hook = conn.get_hook()
    database_info = sql_hook.get_openlineage_database_info(conn)
    if database_info is not None:
        # The hook knows its database's namespace and naming: let the provider's helper do it all.
        parser = SQLParser(dialect=sql_hook.get_openlineage_database_dialect(conn))
        metadata = parser.generate_openlineage_metadata_from_sql(
            sql=operator.sql, hook=sql_hook, database_info=database_info, use_connection=False
        )
        return list(metadata.inputs)
    # Hooks without OpenLineage support (SQLite, ...): the tables parsed from the query, named
    # after the connection's type and host.
    parsed = SQLParser(dialect=conn.conn_type).parse([operator.sql])
    namespace = f"{conn.conn_type}://{conn.host or ''}"
    return [dataset(namespace=namespace, name=table.qualified_name) for table in (parsed.in_tables if parsed else [])]
