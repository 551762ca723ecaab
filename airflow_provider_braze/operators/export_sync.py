"""An export's sync ledger: the run it opens, the options it checks, and how it closes.

Attribute, event and purchase exports consult the durable sync ledger
(:mod:`airflow_provider_braze.incremental`) to send only what is not done yet; the other modes run
without it. A run is checked against the sync's owner (:mod:`~airflow_provider_braze.state.sync_owners`),
then takes the sync's lease (:mod:`~airflow_provider_braze.state.sync_leases`): runs of one sync take
turns, and a run of an older logical date does not overwrite users a newer one wrote. A ledger that would
be the worker-local SQLite file where attempts do not share it is refused first (:func:`check_state_placement`).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_braze.hooks.ketch_settings import default_state_path
from airflow_provider_braze.hooks.state import (
    local_state_allowed_by_config,
    sync_ledger_store,
    worker_local_state_risks,
)
from airflow_provider_braze.incremental import IncrementalSync
from airflow_provider_braze.state.errors import describe_store
from airflow_provider_braze.state.sync_leases import SyncBusyError, holder_text
from airflow_provider_braze.state.sync_ledger import Owner
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

    from airflow_provider_braze.braze.cancel import CancelToken
    from airflow_provider_braze.incremental.partitions import Partition
    from airflow_provider_braze.ledger import ExportLedger
    from airflow_provider_braze.operators.export_base import BrazeExportBaseOperator
    from airflow_provider_braze.records import RecordBuilder
    from airflow_provider_braze.state.sync_leases import SyncLease
    from airflow_provider_braze.state.sync_ledger import SyncLedgerStore, SyncRun

log = logging.getLogger(__name__)

#: Seconds a run waits for another run of its sync by default: long enough for a backfill's dates
#: to take turns, short enough that a stuck holder is named within the hour.
DEFAULT_LEASE_TIMEOUT = 3600.0


def check_sync_options(operator: BrazeExportBaseOperator, record_type: str | None) -> None:
    """Refuse ledger options the export's record type cannot use.

    :param record_type: ``attributes``, ``events``, ``purchases``, or ``None`` outside ``/users/track``.
    :raises AirflowFailException: naming the option and what it applies to.
    """
    if (operator.only_changed or operator.full_resync) and record_type != "attributes":
        raise AirflowFailException("only_changed and full_resync apply to attribute exports only.")
    if operator.event_key_column and record_type not in ("events", "purchases"):
        raise AirflowFailException("event_key_column applies to event and purchase exports only.")


def check_state_placement(operator: BrazeExportBaseOperator, *, local_default: bool, sync_key: str) -> None:
    """Refuse a sync ledger in the worker-local SQLite file where the task's attempts do not share it.

    Under an executor that runs tasks on other machines or in new pods, or in a container whose own
    filesystem holds ``AIRFLOW_HOME``, a retry or the next run would find an empty ledger and resend every
    attribute and send every event again. A dry run sends nothing: it only warns.

    :param local_default: whether the ledger would be the embedded default; ``False`` for an explicit store
        (``state_conn_id``, warehouse mode), which is never refused.
    :param sync_key: the sync, for the message.
    :raises AirflowFailException: naming the evidence and what to set (retrying cannot help).
    """
    if not local_default or operator.allow_local_state or local_state_allowed_by_config():
        return
    risks = worker_local_state_risks(getattr(operator, "executor", None))
    if not risks:
        return
    message = (
        f"Sync {sync_key!r} would keep its sync ledger in the worker-local SQLite file {default_state_path()}, but "
        f"{'; and '.join(risks)}. A retry or the next run on another worker or in a fresh container would find an "
        "empty ledger: every attribute resent, every event and purchase sent again. Set state_conn_id to an Airflow "
        "connection of a database every worker reaches (PostgreSQL, say), or keep the sync's state in the source "
        "warehouse with `warehouse_state=True`. If every attempt of this task does share this AIRFLOW_HOME (one "
        "Celery worker, a shared volume), set allow_local_state=True ([braze] allow_local_state for the whole "
        "deployment); sync_ledger=False exports without a ledger."
    )
    if operator.dry_run:
        log.warning("Dry run, nothing sent; a real run would fail: %s", message)
        return
    raise AirflowFailException(message)


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
    cancel: CancelToken | None = None,
) -> IncrementalSync | None:
    """The export's view of its sync in the ledger; ``None`` for an export that keeps none.

    :param operator: the export, for its ledger options (``state_conn_id``, ``only_changed`` ...).
    :param sync_key: the sync's stable name in the ledger.
    :param endpoint: the catalogue name of the endpoint the rows go to.
    :param record_type: ``attributes``, ``events``, ``purchases``, or ``None`` outside ``/users/track``.
    :param ledger: the run's outcome ledger, which the sync reports settled rows to.
    :param retry_ambiguous: resend rows whose earlier request may have been applied.
    :param builder: the record builder, whose settings key the source rows' digests.
    :param cancel: the task's cancel token: a run waiting for the sync's lease stops waiting when it is
        cancelled (Airflow's SIGTERM).
    """
    check_sync_options(operator, record_type)
    if record_type is None or not operator.sync_ledger:
        return None
    # Before the store is opened: a refused run creates no file and sends nothing. (Warehouse mode, once
    # there, is an explicit store too.)
    check_state_placement(operator, local_default=operator.state_conn_id is None, sync_key=sync_key)
    store = sync_ledger_store(operator.state_conn_id)
    if operator.state_conn_id is None:
        log.info(
            "Sync ledger %r in the embedded SQLite state store under AIRFLOW_HOME: it serves one machine; "
            "workers on several machines or in throwaway pods need state_conn_id (PostgreSQL, say).",
            sync_key,
        )
    lease = None
    newer: frozenset[int] = frozenset()
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
        run = open_ledger_run(operator, store, context, sync_key, endpoint, record_type, partition)
        try:
            lease = take_sync_lease(operator, store, context, sync_key, run, partition, cancel)
        except BaseException as exc:  # another run held it too long, the task was killed, the store failed
            abandon_run(store, run, None, f"waiting for the sync's lease: {exc}")
            raise
        newer = store.newer_runs(run)
        if newer:
            log.info(
                "Sync %r has %d run(s) of a later logical date: users they wrote are not overwritten by this run "
                "(counted as superseded).",
                sync_key,
                len(newer),
            )
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
        newer_runs=newer,
        lease=lease,
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


def abandon_run(store: SyncLedgerStore, run: SyncRun, lease: SyncLease | None, error: str) -> None:
    """A run that fails before it sends: recorded failed where the store still answers (the caller
    raises the original error), its lease released, the store's connections closed.

    :param error: what stopped it, for the run's summary.
    """
    with contextlib.suppress(Exception):
        store.finish_run(run, "failed", {"error": error})
    try:
        if lease is not None:
            lease.release()
    finally:
        store.dispose()


def open_ledger_run(
    operator: BrazeExportBaseOperator,
    store: SyncLedgerStore,
    context: Context,
    sync_key: str,
    endpoint: str,
    record_type: str,
    partition: Partition | None,
) -> SyncRun:
    """This Airflow run's run of the sync (a new attempt of it after a retry)."""
    try:
        run = store.open_run(
            sync_key,
            endpoint=endpoint,
            mode=record_type,
            run_id=_run_id(context),
            map_index=_map_index(context),
            partition=str(partition) if partition else None,
            owner=Owner(operator.dag_id, operator.task_id, share=operator.share_sync),
            as_of=logical_time(context),
        )
    except ValueError as exc:  # another task's sync, or another kind of export's: retrying cannot help
        raise AirflowFailException(str(exc)) from None
    if run.attempt > 1:
        log.info("Attempt %d of this run: rows an earlier attempt had accepted are skipped.", run.attempt)
    if run.created and run.elsewhere:
        log.warning(
            "Sync %r starts with an empty ledger, but %s of this DAG or task %s history in the ledger (%s). If this "
            "task or its DAG was renamed, stop it and carry the ledger over with `braze-sync-ledger rename %s %s` "
            "(or give the task sync_key=%r): an empty ledger resends every event and purchase of the query.",
            sync_key,
            "these syncs" if len(run.elsewhere) > 1 else "a sync",
            "have" if len(run.elsewhere) > 1 else "has",
            ", ".join(run.elsewhere),
            run.elsewhere[0],
            sync_key,
            run.elsewhere[0],
        )
    return run


def take_sync_lease(
    operator: BrazeExportBaseOperator,
    store: SyncLedgerStore,
    context: Context,
    sync_key: str,
    run: SyncRun,
    partition: Partition | None,
    cancel: CancelToken | None,
) -> SyncLease:
    """The sync's lease for this run's scope, waiting while an overlapping run of the sync writes it."""
    ti = context.get("ti")
    holder = holder_text(
        dag_id=operator.dag_id,
        run_id=_run_id(context),
        task_id=operator.task_id,
        map_index=_map_index(context),
        try_number=int(getattr(ti, "try_number", None) or run.attempt),
    )
    try:
        return store.take_lease(
            sync_key,
            run,
            scope=str(partition) if partition else "",
            holder=holder,
            timeout=operator.sync_lease_timeout,
            **({"sleep": cancel.sleep} if cancel is not None else {}),
        )
    except SyncBusyError as exc:
        # Retryable: the other run will finish (the task's retries try again later).
        raise AirflowException(str(exc)) from None


def _run_id(context: Context) -> str:
    return str(context.get("run_id") or uuid.uuid4())


def _map_index(context: Context) -> int:
    ti = context.get("ti")
    map_index = getattr(ti, "map_index", -1) if ti is not None else -1
    return -1 if map_index is None else int(map_index)


def logical_time(context: Context) -> float | None:
    """The run's logical date as unix seconds: ``logical_date``, or its ``run_after`` when the run has
    none (Airflow 3's manual and asset-triggered runs); ``None`` outside a DAG run."""
    when: Any = context.get("logical_date")
    if when is None:
        dag_run = context.get("dag_run")
        when = getattr(dag_run, "run_after", None) if dag_run is not None else None
    timestamp = getattr(when, "timestamp", None)
    return float(timestamp()) if callable(timestamp) else None


def close_sync(sync: IncrementalSync, ledger: ExportLedger, status: str) -> None:
    """Write what the run still holds, record how it ended, and release the store's connections.

    :param status: ``success`` or ``failed``, as the task ends.
    """
    journal = sync.journal
    try:
        try:
            journal.fold_withheld()
            journal.flush_problems()
        finally:
            run = journal.run  # set when the journal writes (sync.journal.writes)
            # A store that failed is not asked again: its failure is the one the task reports (and a
            # retried attempt takes the lease over).
            try:
                if run is not None and journal.failure is None:
                    sync.store.finish_run(run, status, ledger.summary())
            finally:
                if sync.lease is not None and journal.failure is None:
                    sync.lease.release()  # after the run's last write: the next run reads it all
                elif sync.lease is not None:
                    sync.lease.stop_renewing()  # it lapses; a retried attempt of the run takes it over at once
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
