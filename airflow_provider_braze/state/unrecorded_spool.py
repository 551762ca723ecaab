"""The unrecorded spool: outcomes Braze answered that the sync ledger could not record, kept in a file.

When the state store fails (disk full, unreachable ...) after Braze answered a batch, its outcomes
cannot go into the ledger. Left out, a later attempt would hold the delivered events back as if of
unknown outcome, and settling them "not delivered" would send them twice. The export's journal
writes them here instead, outside the store, one JSON Lines file per attempt:
``$AIRFLOW_HOME/braze_sync_unrecorded/<sync key>/<run>-<attempt>.jsonl``, or under the system's
temporary folder when that one cannot be written (the store may have filled the very same disk).
:mod:`.unrecorded_replay` puts them into the store and removes the file.

A file is a header line, then one line per object (version 1)::

    {"spool": "braze-sync-unrecorded", "version": 1, "id": "9f0c...", "sync_key": "dag.events", "sync_id": 3,
     "run": 12, "run_id": "scheduled__2026-11-30", "attempt": 1, "store": "/home/airflow/braze_provider_state.db",
     "store_id": "5be1...", "cause": "disk full", "created_at": 1764460800.0}
    {"outcome": "accepted", "row": "17", "key": "<hex>", "at": 1764460801.2}
    {"outcome": "accepted", "row": "18", "item": "<hex>", "digest": "<hex>", "prints": "<hex>", "points": 3, "at": ...}
    {"outcome": "rejected", "row": "19", "key": "<hex>", "at": ...}

``item`` is the ledger's key of the row (a user's hash; left out when it is the ``key``), ``key`` the
guarded key of an event, purchase or increment, ``digest``, ``prints`` and ``points`` an accepted
attribute row's source digest, value fingerprints and data points. ``accepted``: Braze took it;
``rejected``: Braze refused it; ``released``: its request failed after it left, so a later run may send
it (a batch stopped before it left needs nothing: its keys were never written). Only digests and row
numbers: no identifier, no value and no reason (Braze's reasons may quote a value). ``store_id`` is a
digest of the store's salt: a spool is only ever applied to the store whose keys it holds.

The writer holds an exclusive ``flock`` on its file while its export runs, so that no replay takes a
file still being written; appends are flushed to disk (``fsync``) before the journal goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import itertools
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = "braze-sync-unrecorded"
VERSION = 1
#: The spool's folder under ``AIRFLOW_HOME`` (and under the temporary folder, the fallback).
FOLDER = "braze_sync_unrecorded"
ACCEPTED, REJECTED, RELEASED = "accepted", "rejected", "released"
OUTCOMES = (ACCEPTED, REJECTED, RELEASED)

_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")


class UnrecordedSpoolError(Exception):
    """A spool file cannot be read or applied: what it is, and why.

    :param path: the file.
    :param reason: what is wrong (``in use by a running export``, ``line 7 is not JSON`` ...).
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(str(path), reason)
        self.path = str(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"unrecorded spool {self.path}: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.path, self.reason))


class SpoolBusy(UnrecordedSpoolError):
    """Another process (a running export) holds the spool file: it is still being written."""


@dataclass(frozen=True)
class SpoolHeader:
    """What a spool file is about: the first line of the file.

    :param sync_key: the sync's key.
    :param sync_id: the sync's id in the store (a sync reset since then has another).
    :param run: the ledger's id of the task run whose attempt wrote it.
    :param attempt: that attempt's number.
    :param store: the store, as :func:`~.errors.describe_store` names it.
    :param store_id: :func:`store_id` of the store's salt.
    :param run_id: the Airflow run id, for people.
    :param cause: why the store could not record them (``disk full`` ...).
    :param id: the file's own id: a store remembers which spools it has applied.
    :param created_at: unix seconds.
    """

    sync_key: str
    sync_id: int
    run: int
    attempt: int
    store: str
    store_id: str
    run_id: str | None = None
    cause: str = "error"
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class SpooledOutcome:
    """One object's outcome, as the spool keeps it (see the module's docstring for the fields)."""

    outcome: str
    item: bytes
    row: str | None
    key: bytes | None = None
    digest: bytes | None = None
    prints: bytes | None = None
    points: int = 0
    at: float = 0.0


@dataclass
class Spool:
    """A spool file as read: its header, its outcomes, and whether its last line was cut short (a
    crash while appending: those outcomes never counted as kept)."""

    path: Path
    header: SpoolHeader
    outcomes: list[SpooledOutcome]
    torn: bool = False

    def counts(self) -> dict[str, int]:
        """Outcomes per kind (``accepted``, ``rejected``, ``released``)."""
        found = Counter(o.outcome for o in self.outcomes)
        return {name: found[name] for name in OUTCOMES}


def store_id(salt: bytes) -> str:
    """Which store a spool belongs to: a digest of its salt (which it does not reveal)."""
    return hashlib.blake2b(salt, digest_size=8, person=b"braze-spool").hexdigest()


def _airflow_home() -> Path:
    # As Airflow reads it; the state layer imports nothing of Airflow's.
    return Path(os.path.expanduser(os.path.expandvars(os.environ.get("AIRFLOW_HOME", "~/airflow"))))


def spool_roots() -> list[Path]:
    """Where spools are written, in order of preference, and looked for."""
    roots = [_airflow_home().absolute() / FOLDER, Path(tempfile.gettempdir()).absolute() / FOLDER]
    return list(dict.fromkeys(roots))


def folder_name(sync_key: str) -> str:
    """The folder of a sync's spools: its key when that is a safe file name, else a safe spelling of
    it with a digest (two keys never share a folder)."""
    if _SAFE_NAME.fullmatch(sync_key) and sync_key not in (".", ".."):
        return sync_key
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", sync_key)[:80].strip(".") or "sync"
    return f"{safe}-{hashlib.blake2b(sync_key.encode('utf-8', 'surrogatepass'), digest_size=4).hexdigest()}"


def spool_files(sync_key: str, roots: Sequence[Path] | None = None) -> list[Path]:
    """The spool files of a sync on this machine, oldest first."""
    found: list[tuple[float, str, Path]] = []
    for root in spool_roots() if roots is None else roots:
        folder = root / folder_name(sync_key)
        if folder.is_dir():
            for path in folder.glob("*.jsonl"):
                try:
                    found.append((path.stat().st_mtime, str(path), path))
                except FileNotFoundError:  # replayed and removed meanwhile
                    continue
    return [path for _, _, path in sorted(found)]


# --- writing -------------------------------------------------------------------------------------


def _outcome_line(o: SpooledOutcome) -> str:
    line: dict[str, Any] = {"outcome": o.outcome, "row": o.row}
    if o.key != o.item:  # an event's or purchase's row is known by its key alone
        line["item"] = o.item.hex()
    if o.key is not None:
        line["key"] = o.key.hex()
    if o.prints is not None:
        line.update(digest=(o.digest or b"").hex(), prints=o.prints.hex(), points=o.points)
    line["at"] = round(o.at, 6)
    return json.dumps(line, separators=(",", ":")) + "\n"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _sync_folder(folder: Path) -> None:
    """Make a new directory entry durable (a file renamed into a folder is lost with it otherwise)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolWriter:
    """Appends outcomes to the spool file of one attempt, created on the first; thread-safe.

    :param header: what the file is about (its ``cause`` is set by the first :meth:`add`).
    :param roots: where to write, in order (default :func:`spool_roots`): when one cannot be written,
        the next is used, in a new file.
    """

    def __init__(self, header: SpoolHeader, roots: Sequence[Path] | None = None) -> None:
        self.header = header
        self._roots = list(spool_roots() if roots is None else roots)
        self._lock = threading.Lock()
        self._fd: int | None = None
        #: The files written, the current one last.
        self.paths: list[Path] = []
        #: Outcomes kept, per kind.
        self.counts: Counter[str] = Counter()
        #: Outcomes that could be written nowhere, per kind.
        self.lost: Counter[str] = Counter()
        #: Why the last root failed (for the error a task raises when nothing could be kept).
        self.last_error: OSError | None = None

    @property
    def path(self) -> Path | None:
        """The file written last, if any."""
        return self.paths[-1] if self.paths else None

    @property
    def kept(self) -> int:
        """How many outcomes the spool holds."""
        return sum(self.counts.values())

    def add(self, outcomes: Iterable[SpooledOutcome], cause: str) -> bool:
        """Append outcomes durably; ``False`` when no root could take them (they are counted ``lost``).

        :param cause: why the store could not record them (the header's, on the file's creation).
        """
        batch = list(outcomes)
        if not batch:
            return True
        data = "".join(_outcome_line(o) for o in batch).encode()
        with self._lock:
            while True:
                if self._fd is None and not self._open_next(cause):
                    self.lost.update(o.outcome for o in batch)
                    return False
                assert self._fd is not None  # noqa: S101 - set by _open_next
                end = os.lseek(self._fd, 0, os.SEEK_END)
                try:
                    _write_all(self._fd, data)
                    os.fsync(self._fd)
                except OSError as exc:
                    # Cut back what was half written, keep the file (its earlier lines stand), go on elsewhere.
                    self.last_error = exc
                    log.warning(
                        "Could not append to the unrecorded spool %s (%s); trying the next folder", self.path, exc
                    )
                    with contextlib.suppress(OSError):  # a torn last line is ignored when the file is read
                        os.ftruncate(self._fd, end)
                    self._close_fd()
                    continue
                self.counts.update(o.outcome for o in batch)
                return True

    def _open_next(self, cause: str) -> bool:
        """Create the next file, header written and locked, in the next root that takes it."""
        while self._roots:
            root = self._roots.pop(0)
            try:
                self._create(root / folder_name(self.header.sync_key), cause)
                return True
            except OSError as exc:
                self.last_error = exc
                log.warning("Could not create an unrecorded spool under %s (%s)", root, exc)
        return False

    def _create(self, folder: Path, cause: str) -> None:
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        # The fallback is in a folder every user shares: only a folder of this user's own will do.
        if folder.stat().st_uid != os.getuid():
            raise PermissionError(f"{folder} belongs to another user")
        # Each file has its own id: a store remembers which spools it applied, file by file.
        header = dataclasses.replace(self.header, cause=cause, id=uuid.uuid4().hex) if self.paths else self.header
        header = dataclasses.replace(header, cause=cause)
        temporary = folder / f".{header.id}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            # Locked and complete before it gets its name: a replay never sees it half made.
            fcntl.flock(fd, fcntl.LOCK_EX)
            line = {"spool": FORMAT, "version": VERSION, **dataclasses.asdict(header)}
            _write_all(fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())
            os.fsync(fd)
            base = f"{header.run}-{header.attempt}"
            for n in itertools.count():
                final = folder / (f"{base}.jsonl" if n == 0 else f"{base}-{n}.jsonl")
                try:
                    os.link(temporary, final)  # never replaces a file already there
                    break
                except FileExistsError:
                    continue
            os.unlink(temporary)
            _sync_folder(folder)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        self._fd = fd
        self.paths.append(final)
        log.warning("Outcomes the sync ledger cannot record go to the unrecorded spool %s", final)

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # and with it the lock
            self._fd = None

    def close(self) -> None:
        """Release the file (and its lock): from now on a replay may take it."""
        with self._lock:
            self._close_fd()


# --- reading -------------------------------------------------------------------------------------


def _outcome_of(line: dict[str, Any]) -> SpooledOutcome:
    outcome = line["outcome"]
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    key, prints = line.get("key"), line.get("prints")
    return SpooledOutcome(
        outcome=outcome,
        item=bytes.fromhex(line["item"] if "item" in line else line["key"]),
        row=None if line.get("row") is None else str(line["row"]),
        key=None if key is None else bytes.fromhex(key),
        digest=bytes.fromhex(line.get("digest") or "") if prints is not None else None,
        prints=None if prints is None else bytes.fromhex(prints),
        points=int(line.get("points") or 0),
        at=float(line.get("at") or 0.0),
    )


def parse_spool(path: Path, data: bytes) -> Spool:
    """A spool file's content, checked line by line.

    :raises UnrecordedSpoolError: the file is not a spool, or a line other than a torn last one is bad.
    """
    lines = data.split(b"\n")
    # A file ends with a newline: what follows the last one is a line cut short by a crash.
    torn = lines.pop() != b""
    if not lines:
        raise UnrecordedSpoolError(path, "no header line (not a spool, or cut short while created)")
    try:
        head = json.loads(lines[0])
        if head.pop("spool", None) != FORMAT or head.pop("version", None) != VERSION:
            raise ValueError("not a version 1 spool")
        header = SpoolHeader(**head)
    except (ValueError, TypeError) as exc:
        raise UnrecordedSpoolError(path, f"the header line is not a spool's ({exc})") from None
    outcomes: list[SpooledOutcome] = []
    for number, raw in enumerate(lines[1:], start=2):
        try:
            outcomes.append(_outcome_of(json.loads(raw)))
        except (ValueError, TypeError, KeyError) as exc:
            raise UnrecordedSpoolError(path, f"line {number} is not an outcome ({type(exc).__name__})") from None
    return Spool(path, header, outcomes, torn)


def read_spool(path: Path) -> Spool:
    """Read a spool file (without taking its lock: for looking at it).

    :raises UnrecordedSpoolError: it cannot be read, or is not a spool.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnrecordedSpoolError(path, f"cannot be read ({exc.strerror or exc})") from None
    return parse_spool(path, data)
