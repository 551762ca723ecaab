"""The batched sender: batches go out over a bounded thread pool and come back as per-object outcomes.

Braze answers a batch in one of three ways, and each object's outcome follows from it:

* 2xx: every object is accepted except those its ``errors[]`` names by ``input_array`` and ``index``.
* 400 or 413 for the whole batch: nothing was processed. The batch is split in halves and resent
  until the objects at fault stand alone, so one bad object never costs its 74 neighbours.
* an error that no resend can fix (401, 403, 404, retries exhausted): the batch's objects are
  reported ``failed``, batches already in flight finish, and the error is raised.

A batch that is not safe to resend and ends without a clear answer (lost after sending, 502, 504)
is reported ``unknown``: Braze may or may not have applied it, and the caller decides (see
:class:`~airflow_provider_braze.braze.retry.RetryPolicy`).

A :class:`SendJournal` may watch every batch from the worker thread that sends it: once before the
first byte leaves and once when its outcomes are known, so a durable record (the sync ledger) never
lags behind what Braze may hold by more than the batches in flight.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from airflow_provider_braze.braze.batching import Batch, Batcher
from airflow_provider_braze.braze.concurrency import DEFAULT_CAP, InFlightWindow
from airflow_provider_braze.braze.endpoints import Endpoint, get_endpoint
from airflow_provider_braze.braze.errors import (
    BrazeAmbiguousOutcomeError,
    BrazeBadRequestError,
    BrazePayloadTooLargeError,
)
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.braze.transport import BrazeClient

log = logging.getLogger(__name__)

OutcomeStatus = Literal["accepted", "rejected", "failed", "unknown"]


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What became of one object.

    :param item: the object sent (its ``ref`` leads back to the source row).
    :param status: ``accepted`` (Braze took it), ``rejected`` (Braze refused it; resending the same
        object will not help), ``failed`` (the request failed as a whole; resending may help), or
        ``unknown`` (timed out after sending; Braze may have applied it).
    :param reason: Braze's words for a rejection, or the failure.
    """

    item: Item
    status: OutcomeStatus
    reason: str | None = None


@dataclass
class BatchResult:
    """The outcome of one batch.

    :param endpoint: catalogue name.
    :param outcomes: one per object, in no particular order.
    :param requests: HTTP requests made for this batch (splitting a rejected batch makes more).
    :param attempts: HTTP attempts including retries.
    :param responses: the 2xx bodies, without ``errors`` (counts such as ``deleted``).
    :param unmapped_errors: ``errors[]`` entries that named no object (kept for the report).
    :param fatal_error: set when the batch failed in a way that should stop the whole send.
    :param possible_duplicates: copies Braze may hold beyond one per object: the batch's size for each
        attempt that may have been applied before the one that succeeded (``retry_ambiguous``).
    :param started_at: unix seconds when the batch's first request left (for the sync log).
    """

    endpoint: str
    outcomes: list[ItemOutcome] = field(default_factory=list)
    requests: int = 0
    attempts: int = 0
    responses: list[dict[str, Any]] = field(default_factory=list)
    unmapped_errors: list[Any] = field(default_factory=list)
    fatal_error: BaseException | None = None
    possible_duplicates: int = 0
    started_at: float | None = None

    def count(self, status: OutcomeStatus) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


class SendJournal(Protocol):
    """Watches each batch from the worker thread that sends it (thread-safe implementations only)."""

    def before_send(self, batch: Batch) -> None:
        """Called before the batch's first request; raising stops the batch (its objects ``failed``).
        It may take objects out of the batch (:meth:`~.batching.Batch.remove`); they get no outcome."""

    def after_send(self, result: BatchResult) -> None:
        """Called with the batch's outcomes before the result reaches the caller; raising stops the send."""


class BatchSender:
    """Sends items to one endpoint in batches over a bounded thread pool.

    :param client: the Braze client (thread-safe).
    :param concurrency: the most requests in flight; below it the number follows the rate limit and
        the latency observed (:class:`~airflow_provider_braze.braze.concurrency.InFlightWindow`).
    :param max_pending: batches submitted and not finished, at most (default: the window plus the
        cap, so batches are built ahead while requests are out and outcomes are being recorded: a
        batch's journal commit is not a request and takes no slot); bounds memory.
    :param journal: told about every batch before it is sent and when its outcome is known.
    """

    def __init__(
        self,
        client: BrazeClient,
        *,
        concurrency: int = DEFAULT_CAP,
        max_pending: int | None = None,
        journal: SendJournal | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}.")
        self.client = client
        self.concurrency = concurrency
        self.max_pending = max_pending
        self.journal = journal
        #: The last send's window (its limit and latency tell how it adapted).
        self.window: InFlightWindow | None = None

    def send(
        self,
        endpoint: str | Endpoint,
        items: Iterable[Item],
        *,
        static_body: Mapping[str, Any] | None = None,
        on_wait: Callable[[], None] | None = None,
        on_wait_interval: float = 10.0,
    ) -> Iterator[BatchResult]:
        """Send ``items`` and yield a :class:`BatchResult` per batch as batches complete.

        The items iterator is consumed lazily on the calling thread, so a generator over a database
        cursor is read only as fast as Braze takes the data.

        :param endpoint: catalogue name or :class:`Endpoint` (with its limits).
        :param items: the objects to send.
        :param static_body: fields sent in every request body.
        :param on_wait: called every ``on_wait_interval`` seconds while no batch completes (a long
            rate-limit wait, say), so the caller can keep logging progress.
        :raises BrazeError: after the in-flight batches finish, when a batch failed in a way no resend
            can fix; the failed batch's result is yielded first.
        """
        ep = get_endpoint(endpoint)
        batches = Batcher(ep, static_body).batches(items)
        fatal: BaseException | None = None
        in_flight: deque[Future[BatchResult]] = deque()
        group = ep.rate_limit_group
        window = self.window = InFlightWindow(
            self.client.rate_limiter.bucket(group).rate, cap=self.concurrency, start=min(8, self.concurrency)
        )

        def observe(answered: Endpoint, seconds: float, status: int | None) -> None:
            if answered.rate_limit_group == group:
                window.observe(seconds, status)

        with (
            self.client.watch(observe),
            ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="braze-send") as pool,
        ):
            for batch in batches:
                if batch.refusal is not None:
                    yield self._journaled(_refused(batch))
                    continue
                in_flight.append(pool.submit(self._send_batch, batch, window))
                while len(in_flight) >= (self.max_pending or window.limit + self.concurrency):
                    for result in _next_done(in_flight, on_wait, on_wait_interval):
                        fatal = fatal or result.fatal_error
                        yield result
                if fatal:
                    break
            while in_flight:
                for result in _next_done(in_flight, on_wait, on_wait_interval):
                    fatal = fatal or result.fatal_error
                    yield result
        if fatal is not None:
            raise fatal

    def _send_batch(self, batch: Batch, window: InFlightWindow) -> BatchResult:
        result = BatchResult(batch.endpoint.name, started_at=time.time())
        try:
            if self.journal is not None:
                self.journal.before_send(batch)
                if not len(batch):  # the journal kept every object back (claimed by another run)
                    return self._journaled(result)
            self._send_or_split(batch, result, window)
        except BrazeAmbiguousOutcomeError as exc:
            done = {id(o.item) for o in result.outcomes}
            result.outcomes.extend(ItemOutcome(i, "unknown", str(exc)) for i in batch.all_items() if id(i) not in done)
        except Exception as exc:  # noqa: BLE001 - any failure ends the batch; the caller re-raises it
            done = {id(o.item) for o in result.outcomes}
            result.outcomes.extend(ItemOutcome(i, "failed", str(exc)) for i in batch.all_items() if id(i) not in done)
            result.fatal_error = exc
        return self._journaled(result)

    def _journaled(self, result: BatchResult) -> BatchResult:
        if self.journal is not None:
            try:
                self.journal.after_send(result)
            except Exception as exc:  # noqa: BLE001 - the outcomes stand; the send stops
                result.fatal_error = result.fatal_error or exc
        return result

    def _send_or_split(self, batch: Batch, result: BatchResult, window: InFlightWindow) -> None:
        result.requests += 1
        try:
            with window:  # a slot among the requests in flight; recording the outcome needs none
                response = self.client.request(
                    batch.endpoint,
                    data=batch.body(),
                    idempotent=batch.endpoint.is_idempotent(
                        {key: [item.value for item in items] for key, items in batch.items.items()}
                    ),
                )
        except (BrazeBadRequestError, BrazePayloadTooLargeError) as exc:
            if len(batch) == 1:
                (item,) = batch.all_items()
                result.outcomes.append(ItemOutcome(item, "rejected", exc.message))
                return
            log.info(
                "%s rejected a batch of %d objects (HTTP %s: %s); splitting it to isolate the objects at fault",
                batch.endpoint.path,
                len(batch),
                exc.status_code,
                exc.message,
            )
            for half in batch.split():
                self._send_or_split(half, result, window)
            return
        result.attempts += response.attempts
        # Each earlier attempt that Braze may have applied may have stored the whole batch once more.
        result.possible_duplicates += len(batch) * response.ambiguous_attempts
        _apply_response(batch, response.body, result)


def _apply_response(batch: Batch, body: dict[str, Any], result: BatchResult) -> None:
    rejected: dict[int, str] = {}
    for error in body.get("errors") or ():
        item = _item_for_error(batch, error)
        if item is None:
            result.unmapped_errors.append(error)
        else:
            rejected[id(item)] = _reason(error)
    for item in batch.all_items():
        reason = rejected.get(id(item))
        result.outcomes.append(ItemOutcome(item, "rejected", reason) if reason else ItemOutcome(item, "accepted"))
    result.responses.append({k: v for k, v in body.items() if k != "errors"})


def _item_for_error(batch: Batch, error: Any) -> Item | None:
    if not isinstance(error, Mapping):
        return None
    index, array = error.get("index"), error.get("input_array")
    if not isinstance(index, int) or isinstance(index, bool):
        return None
    if array is None and len(batch.items) == 1:
        array = next(iter(batch.items))
    items = batch.items.get(array) if isinstance(array, str) else None
    return items[index] if items is not None and 0 <= index < len(items) else None


def _reason(error: Mapping[str, Any]) -> str:
    return str(error.get("type") or error.get("message") or error)


def _next_done(
    in_flight: deque[Future[BatchResult]], on_wait: Callable[[], None] | None, interval: float
) -> list[BatchResult]:
    """Wait for at least one batch in flight to finish; remove and return the finished ones."""
    done, _ = wait(list(in_flight), timeout=interval if on_wait else None, return_when=FIRST_COMPLETED)
    while not done:
        # Only reached with on_wait: without it, wait() above blocked until a batch finished.
        if on_wait is not None:
            on_wait()
        done, _ = wait(list(in_flight), timeout=interval, return_when=FIRST_COMPLETED)
    finished = [f for f in in_flight if f in done]
    for f in finished:
        in_flight.remove(f)
    return [f.result() for f in finished]


def _refused(batch: Batch) -> BatchResult:
    """The outcome of a lone object no request can carry: rejected, with the batcher's reason."""
    (item,) = batch.all_items()
    return BatchResult(batch.endpoint.name, [ItemOutcome(item, "rejected", batch.refusal)])
