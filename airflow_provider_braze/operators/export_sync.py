"""An export's sync ledger: the run it opens, the options it checks, and how it closes.

Attribute, event and purchase exports consult the durable sync ledger
(:mod:`airflow_provider_braze.incremental`) to send only what is not done yet; the other modes run
without it.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.hooks.state import sync_ledger_store
from airflow_provider_braze.incremental import IncrementalSync
from airflow_provider_braze.state.errors import describe_store
from airflow_provider_braze.state.unrecorded_replay import replay_sync
from airflow_provider_braze.state.unrecorded_spool import (
    ACCEPTED,
    SpoolHeader,
    SpoolWriter,
    UnrecordedSpoolError,
    spool_files,
    store_id,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_braze.incremental.partitions import Partition
    from airflow_provider_braze.ledger import ExportLedger
    from airflow_provider_braze.operators.export_base import BrazeExportBaseOperator
    from airflow_provider_braze.records import RecordBuilder
    from airflow_provider_braze.state.sync_ledger import SyncLedgerStore, SyncRun

log = logging.getLogger(__name__)


def check_sync_options(operator: BrazeExportBaseOperator, record_type: str | None) -> None:
    """Refuse ledger options the export's record type cannot use.

    :param record_type: ``attributes``, ``events``, ``purchases``, or ``None`` outside ``/users/track``.
    :raises AirflowFailException: naming the option and what it applies to.
    """
    if (operator.only_changed or operator.full_resync) and record_type != "attributes":
        raise AirflowFailException("only_changed and full_resync apply to attribute exports only.")
    if operator.event_key_column and record_type not in ("events", "purchases"):
        raise AirflowFailException("event_key_column applies to event and purchase exports only.")


def open_sync(
    operator: BrazeExportBaseOperator,
    context: Context,
    *,
    sync_key: str,
    endpoint: str,
    record_type: str | None,
    ledger: ExportLedger,
    partition: Partition | None,
    retry_ambiguous: bool,
    builder: RecordBuilder,
) -> IncrementalSync | None:
    """The export's view of its sync in the ledger; ``None`` for an export that keeps none.

    :param operator: the export, for its ledger options (``state_conn_id``, ``only_changed`` ...).
    :param sync_key: the sync's stable name in the ledger.
    :param endpoint: the catalogue name of the endpoint the rows go to.
    :param record_type: ``attributes``, ``events``, ``purchases``, or ``None`` outside ``/users/track``.
    :param ledger: the run's outcome ledger, which the sync reports settled rows to.
    :param retry_ambiguous: resend rows whose earlier request may have been applied.
    :param builder: the record builder, whose settings key the source rows' digests.
    """
    check_sync_options(operator, record_type)
    if record_type is None or not operator.sync_ledger:
        return None
    store = sync_ledger_store(operator.state_conn_id)
    if operator.state_conn_id is None:
        log.info(
            "Sync ledger %r in the embedded SQLite state store under AIRFLOW_HOME: it serves one machine; "
            "workers on several machines or in throwaway pods need state_conn_id (PostgreSQL, say).",
            sync_key,
        )
    if operator.dry_run:
        run = store.peek_run(sync_key)
        if spool_files(sync_key):  # a dry run writes nothing, so it records none
            log.warning(
                "Sync %r has unrecorded spools on this machine (`braze-sync-ledger unrecorded %s`): the next real "
                "run records them first; this dry run counts their rows as unsettled.",
                sync_key,
                sync_key,
            )
    else:
        _replay_unrecorded(store, sync_key)
        run = _open_run(store, context, sync_key, endpoint, record_type, partition)
    sync = IncrementalSync(
        store,
        run,
        record_type=record_type,
        report=ledger,
        only_changed=operator.only_changed,
        full_resync=operator.full_resync,
        retry_ambiguous=retry_ambiguous,
        key_column=operator.event_key_column,
        record=not operator.dry_run,
        stop_on_invalid=not operator.skip_on_invalid_records,
        builder_settings=_settings(builder),
        partition=str(partition) if partition else None,
    )
    writing = sync.journal.run
    if writing is not None:  # what the store cannot record goes to this attempt's spool
        run_id = context.get("run_id")
        sync.journal.spool = SpoolWriter(
            SpoolHeader(
                sync_key,
                writing.sync_id,
                writing.run,
                writing.attempt,
                describe_store(store.engine.url),
                store_id(writing.salt),
                run_id=None if run_id is None else str(run_id),
            )
        )
    return sync


def _replay_unrecorded(store: SyncLedgerStore, sync_key: str) -> None:
    """Record what earlier attempts on this machine could not (their unrecorded spools), before planning.

    :raises AirflowFailException: a spool cannot be read or applied (a retry would not help).
    """
    try:
        # Another partition of the sync may be replaying a spool this very moment: it is done in a second.
        replay_sync(store, sync_key, skip_busy=True, wait=30.0)
    except UnrecordedSpoolError as exc:
        raise AirflowFailException(
            f"{exc}. It holds outcomes Braze answered that an earlier attempt could not record; without them "
            f"delivered rows would be held back as unsettled. Fix or move the file, then run "
            f"`braze-sync-ledger replay FILE` (or `braze-sync-ledger unrecorded {sync_key}` to see them)."
        ) from None


def _open_run(
    store: SyncLedgerStore,
    context: Context,
    sync_key: str,
    endpoint: str,
    record_type: str,
    partition: Partition | None,
) -> SyncRun:
    """This Airflow run's run of the sync (a new attempt of it after a retry)."""
    ti = context.get("ti")
    run_id = context.get("run_id") or str(uuid.uuid4())
    map_index = getattr(ti, "map_index", -1) if ti is not None else -1
    try:
        run = store.open_run(
            sync_key,
            endpoint=endpoint,
            mode=record_type,
            run_id=str(run_id),
            map_index=-1 if map_index is None else int(map_index),
            partition=str(partition) if partition else None,
        )
    except ValueError as exc:  # a sync_key used by another kind of export: retrying cannot help
        raise AirflowFailException(str(exc)) from None
    if run.attempt > 1:
        log.info("Attempt %d of this run: rows an earlier attempt had accepted are skipped.", run.attempt)
    return run


def close_sync(sync: IncrementalSync, ledger: ExportLedger, status: str) -> None:
    """Write what the run still holds, record how it ended, and release the store's connections.

    :param status: ``success`` or ``failed``, as the task ends.
    """
    journal = sync.journal
    try:
        try:
            journal.flush_problems()
        finally:
            run = journal.run  # set when the journal writes (sync.journal.writes)
            # A store that failed is not asked again: its failure is the one the task reports.
            if run is not None and journal.failure is None:
                sync.store.finish_run(run, status, ledger.summary())
    finally:
        journal.close_spool()  # the next attempt may replay it
        sync.store.dispose()  # the pooled connections and the SQLite memory map
        spool = journal.spool
        if spool is not None and spool.kept:
            log.warning(
                "%s outcomes Braze answered (%s accepted) are in the unrecorded spool %s, not in the sync ledger.",
                f"{spool.kept:,}",
                f"{spool.counts[ACCEPTED]:,}",
                spool.path,
            )


def _settings(builder: RecordBuilder) -> str | None:
    """The builder's settings for the sync ledger's source digests; ``None`` for a builder that cannot tell them."""
    settings: Any = getattr(builder, "settings", None)
    return settings() if callable(settings) else None
