"""How an export's source rows become the objects it sends: built, partitioned, planned by the sync ledger.

The export streams: source rows -> record builder -> [partition] -> [sync ledger] -> batcher. The
objects come out counted as sent; rows the builder refuses are reported as they are read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_braze.braze.items import FLUSH, InvalidRecord, Item
from airflow_provider_braze.incremental.planner import Build, Stop

if TYPE_CHECKING:
    from airflow_provider_braze.incremental import IncrementalSync
    from airflow_provider_braze.incremental.partitions import Partition
    from airflow_provider_braze.ledger import ExportLedger
    from airflow_provider_braze.records import RecordBuilder
    from airflow_provider_braze.sources.base import RowSource


def planned_items(
    source: RowSource, build: Build, sync: IncrementalSync | None, ledger: ExportLedger
) -> Iterator[Item]:
    """The objects to send, each counted as sent; with the ledger, only those not done yet.

    :param source: the rows.
    :param build: builds one row (:func:`row_builder`).
    :param sync: the run's sync ledger, if it keeps one.
    :param ledger: the run's outcome ledger.
    """
    if sync is not None and sync.attributes:
        items = sync.plan_rows(source, build)  # unchanged rows are settled before they are built
    elif sync is not None:
        items = sync.plan(_built(source, build))
    else:
        items = _built(source, build)
    for item in items:
        if item is not FLUSH:  # not an object: the batcher's cue to send what it holds
            ledger.sent(item)
        yield item


def row_builder(
    builder: RecordBuilder,
    ledger: ExportLedger,
    partition: Partition | None,
    sync: IncrementalSync | None,
    *,
    skip_on_invalid_records: bool,
) -> Build:
    """Builds one source row: its object; ``None`` for a row skipped as invalid or of another partition;
    :attr:`Stop.STOP` for an invalid row while ``skip_on_invalid_records`` is off.

    :param builder: the export's record builder.
    :param ledger: the run's outcome ledger (counts the rows read, reports invalid ones).
    :param partition: the partition this task exports, if any.
    :param sync: the run's sync ledger, if it keeps one (keeps the invalid rows too).
    :param skip_on_invalid_records: report and skip an invalid row (else reading stops there).
    """
    read, make = ledger.read, builder.build

    def build(ref: int, data: Mapping[str, Any], problem: str | None) -> Item | Stop | None:
        built = make(data, ref) if problem is None else InvalidRecord(ref, None, problem, data)
        if partition is not None and not partition.holds(built):
            return None
        read()
        if not isinstance(built, InvalidRecord):
            return built
        ledger.skip(built)
        if sync is not None:
            sync.journal.invalid(built)
        # Without skipping, reading stops: what was built before this row is still sent, then the task fails.
        return None if skip_on_invalid_records else Stop.STOP

    return build


def _built(source: RowSource, build: Build) -> Iterator[Item]:
    """The objects built from the source's rows (rows the builder drops are reported by ``build``)."""
    for ref, data, problem in source:
        built = build(ref, data, problem)
        if built is Stop.STOP:
            return
        if built is not None:
            yield built
