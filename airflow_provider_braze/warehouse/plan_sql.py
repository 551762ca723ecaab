"""The statements of a warehouse-mode run, built with SQLAlchemy Core for the warehouse's dialect.

A run's **plan** is one table made by ``CREATE TABLE ... AS SELECT`` over the DAG's query: a row per
source row, with the user's hash, the hashes of its values, what Braze last accepted for that user,
how many rows of the query name the user, whether the row is to be sent (``braze_change``), and its
values, kept only for rows to be sent (the others hold NULLs: the plan costs the warehouse little
more than the keys). Only those rows leave the warehouse; counts come from one aggregate.

Identifiers are quoted by the dialect and values are literals SQLAlchemy renders (integers, and hex
text the store made): nothing from the data is pasted into SQL. The DAG's query is the one text
placed in a statement as written, in parentheses, where a placeholder table stood, exactly as the
SQL source runs it (its own ``parameters`` are bound by the driver as there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import ColumnElement

from airflow_provider_braze.warehouse.hashing import identity_hash, value_hash
from airflow_provider_braze.warehouse.tables import MARK_ACCEPTED, table

#: Columns the plan adds to the query's own; a query returning one of these names is refused.
PLAN_COLUMNS = (
    "braze_seq",
    "braze_user",
    "braze_hashes",
    "braze_old_hashes",
    "braze_old_layout",
    "braze_old_run",
    "braze_rows",
)
CHANGE = "braze_change"
#: Stands for the DAG's query in a compiled statement until the query takes its place.
_SOURCE = "braze_source_query"
#: Hex digits of the user hash that partitions split on (65,536 buckets).
_PARTITION_DIGITS = 4


@dataclass(frozen=True)
class PlanSpec:
    """What a plan is made of.

    :param schema: the state schema (``None``: the connection's default).
    :param run: the run's id: the plan is the table ``braze_plan_<run>``.
    :param sync_id: the sync's id.
    :param salt: the sync's salt, as hex.
    :param columns: the query's columns, in order.
    :param identity: the identifier columns among them, in the order they are hashed.
    :param layout: the layout the values' hashes follow (``columns`` minus ``identity``).
    :param send: which rows are sent: ``changed`` (new users and users whose values changed,
        ``only_changed``), ``all`` (every row) or ``resync`` (every row, ``full_resync``). In the
        latter two, rows an earlier attempt of this run had accepted are left out.
    :param partition: ``(index, count)`` of the users this run holds, if partitioned.
    """

    schema: str | None
    run: int
    sync_id: int
    salt: str
    columns: tuple[str, ...]
    identity: tuple[str, ...]
    layout: int
    send: str = "changed"
    partition: tuple[int, int] | None = None

    @property
    def values(self) -> tuple[str, ...]:
        """The columns whose values are hashed and compared, in layout order."""
        return tuple(c for c in self.columns if c not in self.identity)

    @property
    def table_name(self) -> str:
        return f"braze_plan_{self.run}"


def plan_table(spec: PlanSpec) -> Table:
    """The plan as a table object (for the statements that read and merge it)."""
    return Table(
        spec.table_name,
        MetaData(),
        Column("braze_seq", BigInteger()),
        Column("braze_user", String(32)),
        Column("braze_hashes", String()),
        Column("braze_old_hashes", String()),
        Column("braze_old_layout", Integer()),
        Column("braze_rows", Integer()),
        Column(CHANGE, Integer()),
        *(Column(c) for c in spec.columns),
        schema=spec.schema,
    )


def partition_bounds(index: int, count: int) -> tuple[str, str | None]:
    """The user-hash prefixes partition ``index`` of ``count`` holds: ``[low, high)``, ``None`` for no end."""
    buckets = 16**_PARTITION_DIGITS
    low = f"{index * buckets // count:0{_PARTITION_DIGITS}x}"
    high = None if index == count - 1 else f"{(index + 1) * buckets // count:0{_PARTITION_DIGITS}x}"
    return low, high


def in_partition(user_hash: ColumnElement[Any], partition: tuple[int, int] | None) -> ColumnElement[bool] | None:
    """The condition that a user hash falls in ``partition`` (``None``: no partition)."""
    if partition is None or partition[1] == 1:
        return None
    low, high = partition_bounds(*partition)
    prefix = func.substr(user_hash, 1, _PARTITION_DIGITS)
    return prefix >= low if high is None else and_(prefix >= low, prefix < high)


def create_plan(spec: PlanSpec, query: str, dialect: Dialect) -> str:
    """``CREATE TABLE braze_plan_<run> AS SELECT ...`` over ``query``, as text for ``dialect``."""
    source = sql_table(_SOURCE, *(sql_column(c) for c in spec.columns))
    users = table(spec.schema, "braze_wh_users")
    hashes: ColumnElement[Any] = literal("", String())
    for name in spec.values:
        hashes = hashes + value_hash(spec.salt, source.c[name])
    hashed = select(
        *source.c,
        identity_hash(spec.salt, [(c, source.c[c]) for c in spec.identity]).label("braze_user"),
        hashes.label("braze_hashes"),
    ).subquery("braze_hashed")
    joined = select(
        hashed,
        users.c.hashes.label("braze_old_hashes"),
        users.c.layout.label("braze_old_layout"),
        users.c.run.label("braze_old_run"),
        func.count().over(partition_by=hashed.c.braze_user).label("braze_rows"),
    ).select_from(
        hashed.outerjoin(users, and_(users.c.sync_id == spec.sync_id, users.c.user_hash == hashed.c.braze_user))
    )
    where = in_partition(hashed.c.braze_user, spec.partition)
    if where is not None:
        joined = joined.where(where)
    j = joined.subquery("braze_joined")
    same = and_(j.c.braze_old_layout == spec.layout, j.c.braze_old_hashes == j.c.braze_hashes)
    if spec.send == "changed":
        send: ColumnElement[bool] = or_(j.c.braze_old_hashes.is_(None), not_(same), j.c.braze_rows > 1)
    else:  # every row, but what an earlier attempt of this very run had accepted
        send = or_(j.c.braze_old_run.is_(None), j.c.braze_old_run != spec.run, not_(same), j.c.braze_rows > 1)
    decided = select(j, case((send, 1), else_=0).label(CHANGE)).subquery("braze_decided")
    d = decided.c
    plan = select(
        func.row_number().over(order_by=d.braze_user).label("braze_seq"),
        d.braze_user,
        d.braze_hashes,
        d.braze_old_hashes,
        d.braze_old_layout,
        d.braze_rows,
        d[CHANGE],
        *(case((d[CHANGE] == 1, d[c])).label(c) for c in spec.columns),
    )
    target = plan_table(spec)
    text = f"CREATE TABLE {dialect.identifier_preparer.format_table(target)} AS {compile_text(plan, dialect)}"
    return place_query(text, query, dialect)


def place_query(text: str, query: str, dialect: Dialect) -> str:
    """Put the DAG's query where the placeholder table stands in a compiled statement."""
    placeholder = dialect.identifier_preparer.format_table(sql_table(_SOURCE))
    marker = f"FROM {placeholder}"
    if text.count(marker) != 1:
        raise ValueError(f"the plan statement names its source {text.count(marker)} times, not once")
    # The newlines keep a trailing -- comment in the query from swallowing the parenthesis.
    return text.replace(marker, f"FROM (\n{query}\n) {placeholder}")


def compile_text(statement: ClauseElement, dialect: Dialect) -> str:
    """A statement as text for ``dialect``, its values rendered as literals."""
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def plan_counts(spec: PlanSpec) -> Any:
    """Rows of the plan by ``braze_change``: ``(change, rows)``."""
    p = plan_table(spec)
    return select(p.c[CHANGE], func.count()).group_by(p.c[CHANGE])


def plan_rows(spec: PlanSpec) -> Any:
    """The rows to send, in plan order."""
    p = plan_table(spec)
    return select(p).where(p.c[CHANGE] == 1).order_by(p.c.braze_seq)


def users_left(spec: PlanSpec) -> Any:
    """How many users the sync holds (in this partition) that the query no longer returns."""
    p = plan_table(spec)
    u = table(spec.schema, "braze_wh_users")
    conditions = [u.c.sync_id == spec.sync_id, ~exists().where(p.c.braze_user == u.c.user_hash)]
    where = in_partition(u.c.user_hash, spec.partition)
    if where is not None:
        conditions.append(where)
    return select(func.count()).select_from(u).where(*conditions)


def merge_statements(schema: str | None, sync_id: int, run: int, layout: int) -> Sequence[Any]:
    """Merge a run's accepted rows into the users' state, set-wise, then forget its plan and marks.

    Delete and insert (every warehouse runs both; not all of them ``MERGE`` or ``ON CONFLICT``), in one
    transaction: a user's state is replaced by its accepted row's hashes under the plan's layout.
    """
    spec = PlanSpec(schema, run, sync_id, "", (), (), layout)
    p = plan_table(spec)
    m = table(schema, "braze_wh_marks")
    u = table(schema, "braze_wh_users")
    accepted = (
        select(p.c.braze_user, p.c.braze_hashes)
        .distinct()
        .select_from(
            p.join(m, and_(m.c.run == run, m.c.status == MARK_ACCEPTED, p.c.braze_seq.between(m.c.lo, m.c.hi)))
        )
        .subquery("braze_accepted")
    )
    return (
        delete(u).where(u.c.sync_id == sync_id, u.c.user_hash.in_(select(accepted.c.braze_user))),
        insert(u).from_select(
            ["sync_id", "user_hash", "hashes", "layout", "run"],
            select(literal(sync_id), accepted.c.braze_user, accepted.c.braze_hashes, literal(layout), literal(run)),
        ),
        delete(m).where(m.c.run == run),
        delete(table(schema, "braze_wh_plans")).where(table(schema, "braze_wh_plans").c.run == run),
    )


def drop_plan(run: int, schema: str | None, dialect: Dialect) -> str:
    """``DROP TABLE IF EXISTS`` the plan of run ``run``."""
    target = plan_table(PlanSpec(schema, run, 0, "", (), (), 0))
    return f"DROP TABLE IF EXISTS {dialect.identifier_preparer.format_table(target)}"


def probe_columns(query: str, dialect: Dialect) -> str:
    """A statement returning no row, only the query's columns."""
    source = sql_table(_SOURCE)
    text = compile_text(select(literal_column("*")).select_from(source).where(literal(1) == 0), dialect)
    return place_query(text, query, dialect)
