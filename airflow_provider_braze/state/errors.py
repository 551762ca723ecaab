"""The state store's failures, named: which store, what went wrong in a word, and the driver's message.

SQLAlchemy's ``OperationalError`` says ``unable to open database file`` without the file, and hides a
disk that filled up among lock timeouts and lost connections. :class:`StateStoreError` names the
store (a SQLite file's path, or the URL with its password masked) and the cause, classified from
SQLite's result codes and PostgreSQL's SQLSTATEs:

=========================  ==================================================================
cause                      SQLite / PostgreSQL
=========================  ==================================================================
``disk full``              ``SQLITE_FULL`` / ``53100`` disk_full, "No space left on device"
``read-only``              ``SQLITE_READONLY`` / ``25006`` read_only_sql_transaction
``cannot open the file``   ``SQLITE_CANTOPEN`` (a missing folder, permissions)
``locked``                 ``SQLITE_BUSY``, ``SQLITE_LOCKED`` / ``55P03``, ``40P01``
``unreachable``            connection refused, timed out or lost, ``08xxx``, ``57P0x``
``error``                  anything else the driver reports about the store
=========================  ==================================================================

Errors about the statement rather than the store (``IntegrityError``, which callers catch to settle
races, ``ProgrammingError``, ``DataError``) pass through unchanged. Statement parameters never appear
(only the driver's first line is kept: PostgreSQL's ``DETAIL`` may quote values), nor passwords.
"""

from __future__ import annotations

import os
from typing import Any, NoReturn

from sqlalchemy import URL, Engine, make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, NotSupportedError, ProgrammingError

DISK_FULL = "disk full"
READ_ONLY = "read-only"
UNREACHABLE = "unreachable"
CANNOT_OPEN = "cannot open the file"
LOCKED = "locked"
ERROR = "error"

#: SQLite primary result codes (https://www.sqlite.org/rescode.html) -> cause.
_SQLITE_CODES = {13: DISK_FULL, 8: READ_ONLY, 14: CANNOT_OPEN, 5: LOCKED, 6: LOCKED}
#: For drivers without result codes (Python before 3.11): SQLite's own messages.
_SQLITE_MESSAGES = (
    ("database or disk is full", DISK_FULL),
    ("readonly database", READ_ONLY),
    ("unable to open database file", CANNOT_OPEN),
    ("is locked", LOCKED),
)
_POSTGRESQL_STATES = {
    "53100": DISK_FULL,
    "25006": READ_ONLY,
    "55P03": LOCKED,
    "40P01": LOCKED,
    "57P01": UNREACHABLE,  # admin_shutdown
    "57P02": UNREACHABLE,  # crash_shutdown
    "57P03": UNREACHABLE,  # cannot_connect_now
}
_POSTGRESQL_MESSAGES = (
    ("no space left on device", DISK_FULL),
    ("read-only transaction", READ_ONLY),
    ("connection refused", UNREACHABLE),
    ("timeout expired", UNREACHABLE),
    ("connection failed", UNREACHABLE),
    ("could not translate host name", UNREACHABLE),
    ("server closed the connection", UNREACHABLE),
    ("terminating connection", UNREACHABLE),
    ("connection is lost", UNREACHABLE),
    ("the connection is closed", UNREACHABLE),
)
#: Driver messages are cut here: a store's error needs no more, and less leaves less to leak.
_MESSAGE_LIMIT = 300
_NOT_ABOUT_THE_STORE = (IntegrityError, ProgrammingError, DataError, NotSupportedError)


class StateStoreError(Exception):
    """The state store failed: the store, the cause in a word, and the driver's message.

    :param store: what the store is: a SQLite file's path, or its URL with the password masked.
    :param cause: ``disk full``, ``read-only``, ``unreachable``, ``cannot open the file``, ``locked``
        or ``error``.
    :param driver_message: the first line of the driver's message, without parameters or secrets.
    """

    def __init__(self, store: str, cause: str, driver_message: str) -> None:
        super().__init__(store, cause, driver_message)
        self.store = store
        self.cause = cause
        self.driver_message = driver_message

    def __str__(self) -> str:
        return f"state store {self.store}: {self.cause} ({self.driver_message})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.store, self.cause, self.driver_message))

    def again(self) -> StateStoreError:
        """A new error saying the same (for each thread that meets a store already known broken)."""
        return StateStoreError(self.store, self.cause, self.driver_message)


def describe_store(url: str | URL) -> str:
    """How a store is named in messages: a SQLite file's path, else the URL without its password.

    :param url: the store's SQLAlchemy URL.
    """
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:"):
            return "in-memory SQLite database"
        if database.startswith("file:"):  # a URI filename: its path, without the options
            database = database[len("file:") :].split("?", 1)[0]
        return os.path.abspath(database)
    # Query options may carry secrets too (sslpassword ...): only harmless-looking ones are kept.
    query = {k: v for k, v in url.query.items() if not any(s in k.lower() for s in ("pass", "secret", "token", "key"))}
    return url.set(query=query).render_as_string(hide_password=True)


def named_error(exc: BaseException, url: str | URL, dbapi: Any = None) -> StateStoreError | None:
    """The :class:`StateStoreError` a driver failure stands for; ``None`` for an error that is not one.

    :param exc: a SQLAlchemy ``DBAPIError``, or the driver's own error (from a raw cursor).
    :param url: the store's URL.
    :param dbapi: the driver module (``sqlite3``, ``psycopg``), to recognise its raw errors.
    """
    if isinstance(exc, StateStoreError):
        return exc
    if isinstance(exc, DBAPIError):
        if isinstance(exc, _NOT_ABOUT_THE_STORE):
            return None
        orig: BaseException = exc.orig if isinstance(exc.orig, BaseException) else exc
    elif dbapi is not None and isinstance(exc, dbapi.Error):
        if isinstance(exc, (dbapi.IntegrityError, dbapi.ProgrammingError, dbapi.DataError, dbapi.NotSupportedError)):
            return None
        orig = exc
    else:
        return None
    url = make_url(url)
    message = _first_line(orig, url)
    if url.get_backend_name() == "sqlite":
        cause = _sqlite_cause(orig, message)
        if cause == CANNOT_OPEN:
            message += _folder_problem(url)
    else:
        cause = _postgresql_cause(orig, message)
    return StateStoreError(describe_store(url), cause, message)


def raise_named(exc: BaseException, engine: Engine) -> NoReturn:
    """Raise ``exc`` as the :class:`StateStoreError` it stands for (itself when it stands for none).

    For the hot paths (a ``try``/``except`` costs nothing until it catches; a context manager costs
    a generator per use). Call it from the ``except`` block that caught ``exc``.

    :param engine: the store's engine.
    """
    named = named_error(exc, engine.url, engine.dialect.loaded_dbapi)
    if named is None or named is exc:
        raise exc
    raise named from exc


def _first_line(orig: BaseException, url: URL) -> str:
    text = str(orig).strip().splitlines()
    line = text[0].strip() if text else type(orig).__name__
    if url.password:
        line = line.replace(str(url.password), "***")
    return line if len(line) <= _MESSAGE_LIMIT else line[: _MESSAGE_LIMIT - 3] + "..."


def _sqlite_cause(orig: BaseException, message: str) -> str:
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _SQLITE_CODES:
        return _SQLITE_CODES[code & 0xFF]
    lowered = message.lower()
    return next((cause for text, cause in _SQLITE_MESSAGES if text in lowered), ERROR)


def _postgresql_cause(orig: BaseException, message: str) -> str:
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(state, str):
        if state in _POSTGRESQL_STATES:
            return _POSTGRESQL_STATES[state]
        if state.startswith("08"):  # connection_exception and its subclasses
            return UNREACHABLE
    lowered = message.lower()
    return next((cause for text, cause in _POSTGRESQL_MESSAGES if text in lowered), ERROR)


def _folder_problem(url: URL) -> str:
    """Why SQLite could not open the file, when its folder tells (missing, not a folder, not writable)."""
    path = describe_store(url)
    folder = os.path.dirname(path)
    if not os.path.exists(folder):
        return f"; the folder {folder} does not exist and could not be created"
    if not os.path.isdir(folder):
        return f"; {folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"; the folder {folder} is not writable"
    return ""
