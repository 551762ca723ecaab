"""Tables of warehouse mode, kept in the state schema of the source's warehouse (SQLAlchemy Core).

Portable to every warehouse the provider runs or compiles for: no autoincrement, no JSON type, no
binary column; users are known by a salted MD5 of their identifiers, as 32 hex digits, never by
an identifier itself. The runs, leases and problems of a sync live beside these, in the sync ledger's
own tables (:mod:`airflow_provider_braze.state.schema`), created in the same schema.

- ``braze_wh_users``: per user, the hashes of the values Braze last accepted (16 hex digits a column,
  in the order of the sync's ``layout``) and the run that wrote them.
- ``braze_wh_layouts``: the columns (a JSON list) and the record builder's settings (SHA-256) a layout
  stands for: a user written under another layout is compared column by column, by name.
- ``braze_wh_plans``: the plans not merged yet (one per run: its attempts rebuild it). A plan left by
  a killed attempt is merged by the next run of its scope before that run plans.
- ``braze_wh_marks``: what became of a plan's rows, as ranges of their row numbers: ``accepted``.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import BigInteger, Column, Double, Integer, MetaData, String, Table, Text

#: A plan's row status kept in ``braze_wh_marks``.
MARK_ACCEPTED = "accepted"

metadata = MetaData()

braze_wh_users = Table(
    "braze_wh_users",
    metadata,
    Column("sync_id", BigInteger(), primary_key=True, autoincrement=False),
    Column("user_hash", String(32), primary_key=True),
    Column("hashes", Text(), nullable=False),
    Column("layout", Integer(), nullable=False),
    Column("run", BigInteger(), nullable=False),
)

braze_wh_layouts = Table(
    "braze_wh_layouts",
    metadata,
    Column("sync_id", BigInteger(), primary_key=True, autoincrement=False),
    Column("layout", Integer(), primary_key=True, autoincrement=False),
    Column("columns", Text(), nullable=False),
    Column("settings", String(64), nullable=False),
)

braze_wh_plans = Table(
    "braze_wh_plans",
    metadata,
    Column("run", BigInteger(), primary_key=True, autoincrement=False),
    Column("sync_id", BigInteger(), nullable=False),
    Column("scope", String(32), nullable=False),
    Column("layout", Integer(), nullable=False),
    Column("created_at", Double(), nullable=False),
)

braze_wh_marks = Table(
    "braze_wh_marks",
    metadata,
    Column("run", BigInteger(), nullable=False),
    Column("lo", BigInteger(), nullable=False),
    Column("hi", BigInteger(), nullable=False),
    Column("status", String(16), nullable=False),
)


@cache
def tables_in(schema: str | None) -> MetaData:
    """The warehouse tables as they are named in ``schema`` (``None``: the connection's default schema).

    Copies with the schema set, not a ``schema_translate_map``: the plan's statements are compiled to
    text (the DAG's query is placed inside them), and a translate map applies only at execution.
    """
    copy = MetaData(schema=schema)
    for table in metadata.tables.values():
        table.to_metadata(copy, schema=schema)  # type: ignore[arg-type]  # None: no schema, as documented
    return copy


def table(schema: str | None, name: str) -> Table:
    """One warehouse table in ``schema``."""
    return tables_in(schema).tables[f"{schema}.{name}" if schema else name]
