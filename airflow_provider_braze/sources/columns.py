"""Which source columns an export reads: ``columns=`` / ``exclude_columns=``, and no secrets by accident.

``SELECT *`` is the easy way to write an export query, and it sends every column, including the one
nobody meant to: ``password_hash``, ``api_token``. So, before rows are digested or built:

- ``columns``: when given, only these columns are read (identifiers included: list them too);
- ``exclude_columns``: these columns are never read;
- a column whose name says it holds a secret (``password``, ``secret``, ``token``, ``api_key``,
  ``ssn``, ``credit_card`` ... as a word of its name) is left out with a warning, unless
  ``columns`` names it.

The filter runs on source rows, so the sync ledger's digests cover what is exported and nothing
else: a change in a left-out column is no change, and changing the lists rebuilds every row.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_braze.sources.base import EXTRA_FIELDS, RAW_LINE, RowSource, SourceRow

log = logging.getLogger(__name__)

#: Words of a column name that mark a secret (``push_tokens``, a Braze profile field, is not one).
_SECRET = re.compile(
    r"(?:^|[_\W])(password|passwd|pwd|secret|api_?key|token|access_?key|private_?key|ssn|"
    r"social_security|credit_?card|card_?number|cvv|iban)(?:$|[_\W])",
    re.IGNORECASE,
)
#: Keys a source adds to rows it could not read; kept, so a refused row still shows what was read.
_SOURCE_KEYS = frozenset({RAW_LINE, EXTRA_FIELDS})


def looks_secret(column: str) -> bool:
    """Whether a column's name says it holds a credential or a sensitive number."""
    return bool(_SECRET.search(column))


class ColumnFilter:
    """Which columns of a row an export reads.

    :param columns: read only these (``None``: every column but those below).
    :param exclude_columns: never read these.
    :raises ValueError: for a column in both lists.
    """

    def __init__(self, columns: Iterable[str] | None = None, exclude_columns: Iterable[str] | None = None) -> None:
        self.columns = None if columns is None else frozenset(_names(columns, "columns"))
        self.exclude = frozenset(_names(exclude_columns or (), "exclude_columns"))
        both = sorted(self.exclude & (self.columns or frozenset()))
        if both:
            raise ValueError(
                f"{', '.join(both)} {'is' if len(both) == 1 else 'are'} in both columns and exclude_columns"
            )
        self._kept: dict[tuple[str, ...], tuple[str, ...] | None] = {}

    def kept(self, names: tuple[str, ...]) -> tuple[str, ...] | None:
        """The columns of a row with these column names that are read; ``None`` when all are."""
        found = self._kept.get(names, False)
        if found is not False:
            # False is the cache's miss marker; anything else is the cached tuple or None.
            return found  # type: ignore[return-value]
        keep = []
        for name in names:
            if name in _SOURCE_KEYS or (self.columns is not None and name in self.columns):
                keep.append(name)
            elif self.columns is not None or name in self.exclude:
                continue
            elif looks_secret(name):
                log.warning(
                    "Column %r looks like a secret and is not exported; name it in columns= to export it anyway, "
                    "or leave it out of the query.",
                    name,
                )
            else:
                keep.append(name)
        result = None if len(keep) == len(names) else tuple(keep)
        if len(self._kept) >= 64:  # column sets vary only in record lists and JSON Lines
            self._kept.clear()
        self._kept[names] = result
        return result

    def source(self, source: RowSource) -> RowSource:
        """``source`` with every row's data limited to the columns read.

        A source whose columns are fixed and known before its first row (a query, a CSV header) and
        all kept is returned as it is: no cost per row.
        """
        fixed = getattr(source, "columns", None)
        if fixed and self.kept(tuple(fixed)) is None:
            return source
        return _FilteredSource(source, self)


class _FilteredSource:
    """A row source whose rows hold only the columns a :class:`ColumnFilter` keeps."""

    def __init__(self, source: RowSource, columns: ColumnFilter) -> None:
        self._source = source
        self._columns = columns
        self.description = source.description
        self.total = source.total

    def __iter__(self) -> Iterator[SourceRow]:
        kept = self._columns.kept
        for ref, data, problem in self._source:
            names = kept(tuple(data))
            yield (ref, data, problem) if names is None else (ref, {name: data[name] for name in names}, problem)

    def close(self) -> None:
        self._source.close()

    def __getattr__(self, name: str) -> Any:  # rows_read, columns ... of the source underneath
        return getattr(self._source, name)


def _names(value: Iterable[str] | str, what: str) -> list[str]:
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    if not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{what} must be column names, got {value!r}")
    return names


def filter_columns(
    source: RowSource, columns: Iterable[str] | None, exclude_columns: Iterable[str] | None
) -> RowSource:
    """``source`` read through a :class:`ColumnFilter` (always: secret-looking columns are left out)."""
    return ColumnFilter(columns, exclude_columns).source(source)
