"""Bringing a state store made by an earlier release up to the tables of this one.

Tables missing from the database are created by ``metadata.create_all``; a table that exists keeps
its columns, so a column added by a later release is added here (``ALTER TABLE ... ADD COLUMN``).
Only nullable columns without defaults are ever added to existing tables: the rows already there
read as NULL, which each such column's reader takes as "not known" (an owner not recorded, a run of
no logical date). No column is ever dropped or changed.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.schema import CreateColumn

log = logging.getLogger(__name__)


def add_missing_columns(conn: Connection, metadata: MetaData) -> list[str]:
    """Add the nullable columns the tables of ``metadata`` declare and the database lacks.

    :param conn: a connection inside a write transaction (on SQLite it holds the write lock, so
        two processes upgrading one file take turns).
    :param metadata: the tables as this release declares them.
    :returns: ``table.column`` of each column added.
    :raises RuntimeError: a missing column is not nullable (a release must not add one).
    """
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    added: list[str] = []
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable or column.primary_key:
                raise RuntimeError(f"the state store's table {table.name} lacks the required column {column.name}")
            ddl = CreateColumn(column).compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")
            added.append(f"{table.name}.{column.name}")
    if added:
        log.info("State store upgraded: added %s.", ", ".join(added))
    return added
