"""What every record builder is: one source row in, one Braze object or one invalid record out.

A builder is created once per task and called for every row, so the work that depends only on the
column names (which column is an identifier, which is pre-formatted JSON, which names Braze would
refuse) is done once per distinct column set and cached as a *plan*.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Protocol, overload, runtime_checkable

from airflow_provider_braze.braze.items import InvalidRecord, Item
from airflow_provider_braze.records.kinds import Mode, RecordType
from airflow_provider_braze.records.values import Invalid, field_list, parse_json

#: Sparse JSON Lines rows can produce many column sets; past this many plans the cache starts over.
MAX_PLANS = 1024


@runtime_checkable
class RecordBuilder(Protocol):
    """Turns a source row into one Braze object for :attr:`endpoint`, or an :class:`InvalidRecord`.

    :ivar endpoint: the catalogue name of the endpoint the objects are for (``users/track``).
    """

    endpoint: str

    def build(self, row: Mapping[str, Any], ref: Any) -> Item | InvalidRecord:
        """Build the Braze object for ``row``.

        :param row: column name to value, from a SQL cursor, a CSV file (text or ``None``) or JSON.
        :param ref: the caller's row reference (1-based row number), returned on the result.
        """
        ...


class RowError(Exception):
    """Raised inside a builder to reject the current row; becomes an :class:`InvalidRecord`.

    :param column: the column at fault, or ``None`` for the row as a whole.
    :param reason: the sentence for the data engineer.
    """

    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


Converter = Callable[[Any], Any]


class _Faulty:
    """What :meth:`RowBuilder.value` gives for a value at fault, so the row is read on to its end."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<value at fault>"


#: Stands for a value found invalid while the rest of its row is read, so that every fault of a
#: row is reported at once. It is never sent: a row with a fault becomes an ``InvalidRecord``.
FAULTY: Any = _Faulty()


class RowBuilder(abc.ABC):
    """Shared machinery: plan caching, missing values, ``pre_formatted_fields``, invalid records.

    Subclasses implement :meth:`plan` (once per column set) and :meth:`make` (once per row), and
    declare what they serve: :attr:`mode`, :attr:`record_type`, :attr:`endpoint` and Treasure Data's
    names for them. Their keyword options are their constructor's keyword parameters.
    :mod:`~airflow_provider_braze.records.modes` builds every table of modes from these declarations.

    :param pre_formatted_fields: columns whose text is JSON to send as arrays, objects or typed
        values (Treasure Data's parameter): a list or a comma-separated string.
    :param empty_as_null: treat an empty string as a missing value. CSV cannot tell an empty
        value from a NULL, and Braze would store ``""`` as a real value, so this is on by default.
    """

    #: The export mode the builder serves.
    mode: ClassVar[Mode]
    #: Under ``track``, the ``/users/track`` array the builder fills; ``None`` for the other modes.
    record_type: ClassVar[RecordType | None] = None
    #: Treasure Data's spellings of :attr:`mode` (its connector's ``mode`` values).
    td_modes: ClassVar[tuple[str, ...]] = ()
    #: Under ``track``, Treasure Data's spelling of :attr:`record_type` (its ``track_record_type``).
    td_record_type: ClassVar[str | None] = None
    #: The catalogue name of the endpoint the objects are for (``users/track``).
    endpoint: str = ""

    def __init__(
        self,
        *,
        pre_formatted_fields: str | Iterable[str] | None = None,
        empty_as_null: bool = True,
    ) -> None:
        self.pre_formatted_fields = field_list(pre_formatted_fields)
        self.empty_as_null = empty_as_null
        self._plans: dict[tuple[str, ...], Any] = {}
        self._faults: list[RowError] = []  # of the row being built; emptied after each faulty row
        self._building = False

    def build(self, row: Mapping[str, Any], ref: Any) -> Item | InvalidRecord:
        """Build the Braze object for ``row``, or say why it cannot be built.

        Every fault of the row is reported, not only the first: its reasons are joined with "; ",
        and the column is the first faulty one's.

        :param row: column name to value.
        :param ref: the caller's row reference, returned on the result.
        """
        faults = self._faults
        self._building = True
        try:
            columns = tuple(row)
            plan = self._plans.get(columns)
            if plan is None:
                plan = self._new_plan(columns)
            key, value = self.make(row, plan)
        except RowError as exc:  # a fault the row cannot be read past (no identifier, say)
            faults.append(exc)
        except RecursionError:  # JSON nested thousands deep: no Braze object, and no crash either
            faults.append(RowError(None, "the row nests objects or arrays too deep to read"))
        except Exception:
            # Reading on past a fault handed FAULTY to code that needed the real value; the faults
            # found so far are the answer. Without one, this is a bug to see.
            if not faults:
                raise
        finally:
            self._building = False
        if faults:
            reasons = list(dict.fromkeys(f.reason for f in faults))
            invalid = InvalidRecord(ref, faults[0].column, "; ".join(reasons), row)
            faults.clear()
            return invalid
        return Item(key, value, ref)

    def fault(self, column: str | None, reason: str) -> None:
        """Report a fault of the row being built and read on (outside :meth:`build`, raise it).

        :raises RowError: when no row is being built.
        """
        if not self._building:
            raise RowError(column, reason)
        self._faults.append(RowError(column, reason))

    def settings(self) -> str | None:
        """Everything besides the row that shapes what :meth:`build` makes, as stable text; ``None`` if
        some of it cannot be told (a function, say).

        The sync ledger keys source rows' digests with it (with the package version), so a row read
        again under other settings is built and compared, never taken as unchanged. A subclass that
        builds from anything but its public attributes and the row must override it.
        """
        public = {name: value for name, value in vars(self).items() if not name.startswith("_")}
        try:
            state = json.dumps(public, sort_keys=True, default=_stable_json)
        except (TypeError, ValueError):
            return None
        return f"{type(self).__module__}.{type(self).__qualname__}:{state}"

    def _new_plan(self, columns: tuple[str, ...]) -> Any:
        if len(self._plans) >= MAX_PLANS:
            self._plans.clear()
        plan = self._plans[columns] = self.plan(columns)
        return plan

    @abc.abstractmethod
    def plan(self, columns: tuple[str, ...]) -> Any:
        """Work out, once per column set, how to read rows with these columns."""

    @abc.abstractmethod
    def make(self, row: Mapping[str, Any], plan: Any) -> tuple[str, Any]:
        """Return ``(body key, Braze object)`` for one row, or raise :class:`RowError`."""

    # -- helpers for subclasses --------------------------------------------------------------

    def is_missing(self, value: Any) -> bool:
        """Whether a value counts as absent (``None``, or ``""`` when ``empty_as_null``)."""
        return value is None or (self.empty_as_null and value == "")

    @overload
    def reader(self, column: str, convert: Converter, *, json_text: bool = False) -> Converter: ...

    @overload
    def reader(self, column: str, convert: None, *, json_text: bool = False) -> Converter | None: ...

    def reader(self, column: str, convert: Converter | None, *, json_text: bool = False) -> Converter | None:
        """The converter for one column: parse JSON text first where asked, then ``convert``.

        :param column: the column name, used for ``pre_formatted_fields``.
        :param convert: the value rule for the column, or ``None`` to take values as they are.
        :param json_text: parse text as JSON even if the column is not in ``pre_formatted_fields``
            (columns such as ``properties`` that can only hold JSON).
        """
        if not (json_text or column in self.pre_formatted_fields):
            return convert
        if convert is None:
            return _json_or_value
        return lambda value: convert(_json_or_value(value))

    def value(self, row: Mapping[str, Any], column: str, convert: Converter | None) -> Any:
        """Read and convert ``row[column]``; a missing value comes back as ``None``."""
        raw = row[column]
        if raw is None or (self.empty_as_null and raw == ""):
            return None
        if convert is None:
            return raw
        try:
            return convert(raw)
        except Invalid as exc:
            self.fault(column, f"{column} {exc}")
            return FAULTY


def _stable_json(value: Any) -> Any:
    # Sets print in an order that changes from one process to the next (hash randomisation).
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} has no stable text")


def _json_or_value(value: Any) -> Any:
    # JSON Lines and record lists already hold arrays and objects; only text needs parsing.
    return parse_json(value) if isinstance(value, str) else value


def required(builder: RowBuilder, row: Mapping[str, Any], column: str, convert: Converter | None, what: str) -> Any:
    """Read a column Braze requires; reject the row when it is absent or empty.

    :param what: how the reason describes the column's purpose ("the event name").
    """
    if column not in row:
        builder.fault(column, f"{column} is required ({what}) but the row has no {column} column")
        return FAULTY
    value = builder.value(row, column, convert)
    if value is None:
        builder.fault(column, f"{column} is required ({what}) but is empty")
        return FAULTY
    return value
