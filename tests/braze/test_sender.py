"""BatchSender: per-object outcomes from Braze's answers, isolation of bad objects, fatal errors."""

from __future__ import annotations

import json
import threading
import time

import pytest

from airflow_provider_braze.braze import sender as sender_module
from airflow_provider_braze.braze.errors import BrazeAuthenticationError, BrazeCancelledError
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.braze.sender import BatchSender
from airflow_provider_braze.braze.transport import BrazeClient
from tests.helpers.braze import BASE
from tests.helpers.secrets import TEST_API_KEY

TRACK = f"{BASE}/users/track"


def attrs(n: int) -> list[Item]:
    return [Item("attributes", {"external_id": f"u{i}", "n": i}, ref=i) for i in range(n)]


def outcomes(results) -> dict:
    return {o.item.ref: (o.status, o.reason) for r in results for o in r.outcomes}


def test_every_object_is_accepted_on_success(client, requests_mock):
    requests_mock.post(TRACK, status_code=201, json={"message": "success", "attributes_processed": 75})
    results = list(BatchSender(client, concurrency=2).send("users/track", attrs(150)))
    assert len(results) == 2 and requests_mock.call_count == 2
    assert outcomes(results) == dict.fromkeys(range(150), ("accepted", None))


def test_partial_errors_map_back_to_the_objects_sent(client, requests_mock):
    def answer(request, context):
        context.status_code = 201
        body = request.json()
        # Braze names the bad objects by array and 0-based index within this request.
        bad = [i for i, obj in enumerate(body["attributes"]) if obj["n"] % 10 == 3]
        return {
            "message": "success",
            "errors": [{"type": "bad value", "input_array": "attributes", "index": i} for i in bad],
        }

    requests_mock.post(TRACK, json=answer)
    results = list(BatchSender(client, concurrency=3).send("users/track", attrs(200)))
    got = outcomes(results)
    assert {ref for ref, (status, _) in got.items() if status == "rejected"} == {i for i in range(200) if i % 10 == 3}
    assert got[13] == ("rejected", "bad value") and got[14] == ("accepted", None)


def test_errors_in_mixed_requests_use_their_own_array_index(client, requests_mock):
    items = attrs(2) + [Item("events", {"external_id": "u", "name": "e", "time": "t"}, ref=f"e{i}") for i in range(2)]
    requests_mock.post(
        TRACK,
        status_code=201,
        json={"message": "success", "errors": [{"type": "bad event", "input_array": "events", "index": 1}]},
    )
    got = outcomes(BatchSender(client).send("users/track", items))
    assert got["e1"] == ("rejected", "bad event")
    assert got[1] == ("accepted", None) and got["e0"] == ("accepted", None)


def test_a_rejected_batch_is_split_until_the_bad_object_stands_alone(client, requests_mock):
    def answer(request, context):
        body = request.json()
        if any(obj["n"] == 42 for obj in body["attributes"]):
            context.status_code = 400
            return {"message": "Invalid date"}
        context.status_code = 201
        return {"message": "success"}

    requests_mock.post(TRACK, json=answer)
    results = list(BatchSender(client).send("users/track", attrs(75)))
    got = outcomes(results)
    assert got[42] == ("rejected", "Invalid date")
    assert sum(1 for status, _ in got.values() if status == "accepted") == 74
    # 1 + 2 per level of halving down to one object: log2(75) levels.
    assert results[0].requests <= 1 + 2 * 7


def test_an_unmapped_error_is_kept_and_the_objects_accepted(client, requests_mock):
    requests_mock.post(
        f"{BASE}/users/identify", status_code=201, json={"message": "success", "errors": ["external_id u9 not found"]}
    )
    items = [
        Item(
            "aliases_to_identify",
            {"external_id": f"u{i}", "user_alias": {"alias_name": "a", "alias_label": "l"}},
            ref=i,
        )
        for i in range(3)
    ]
    (result,) = BatchSender(client).send("users/identify", items)
    assert result.count("accepted") == 3 and result.unmapped_errors == ["external_id u9 not found"]


def test_an_oversized_object_is_rejected_without_a_request(client, requests_mock):
    requests_mock.post(TRACK, status_code=201, json={"message": "success"})
    items = [*attrs(1), Item("attributes", {"external_id": "big", "blob": "x" * 4_100_000}, ref="big")]
    got = outcomes(BatchSender(client).send("users/track", items))
    assert got["big"][0] == "rejected" and "4,000,000-byte" in got["big"][1]
    assert got[0] == ("accepted", None) and requests_mock.call_count == 1


def test_an_object_with_a_lone_surrogate_is_rejected_and_its_batch_still_goes(client, requests_mock):
    # A lone surrogate cannot be UTF-8: JSON Lines text "\\ud800" decodes to one. The builders refuse it
    # with the column named; this is the batcher's backstop for a value that slipped through.
    requests_mock.post(TRACK, status_code=201, json={"message": "success"})
    items = [*attrs(3), Item("attributes", {"external_id": "bad", "plan": "pro\ud800"}, ref="bad"), *attrs(2)]
    got = outcomes(BatchSender(client).send("users/track", items))
    assert got["bad"] == (
        "rejected",
        "object cannot be encoded as JSON: a string holds a lone surrogate (U+D800 to U+DFFF), "
        "which is not Unicode text",
    )
    assert [got[i] for i in range(3)] == [("accepted", None)] * 3 and requests_mock.call_count == 1
    assert len(requests_mock.last_request.json()["attributes"]) == 5


def test_auth_failure_reports_the_batch_failed_then_raises(client, requests_mock):
    requests_mock.post(TRACK, status_code=401, json={"message": "Invalid API key"})
    seen = []
    with pytest.raises(BrazeAuthenticationError):  # noqa: PT012 - the sender raises part-way through its results
        for result in BatchSender(client, concurrency=1).send("users/track", attrs(300)):
            seen.append(result)
    assert seen and all(o.status == "failed" for r in seen for o in r.outcomes)
    # It stopped instead of sending all four batches.
    assert requests_mock.call_count < 4


def test_timeout_on_events_marks_the_batch_unknown_and_continues(client, requests_mock):
    import requests

    events = [Item("events", {"external_id": f"u{i}", "name": "e", "time": "t"}, ref=i) for i in range(100)]
    requests_mock.post(
        TRACK, [{"exc": requests.ReadTimeout("slow")}, {"status_code": 201, "json": {"message": "success"}}]
    )
    results = list(BatchSender(client, concurrency=1).send("users/track", events))
    statuses = [o.status for r in results for o in r.outcomes]
    assert statuses.count("unknown") == 75 and statuses.count("accepted") == 25


def test_request_bodies_are_the_objects_in_order(client, requests_mock):
    requests_mock.post(TRACK, status_code=201, json={"message": "success"})
    list(BatchSender(client).send("users/track", attrs(3)))
    assert json.loads(requests_mock.last_request.body) == {
        "attributes": [{"external_id": f"u{i}", "n": i} for i in range(3)]
    }


def test_source_is_read_only_as_fast_as_batches_are_sent(client, requests_mock):
    requests_mock.post(TRACK, status_code=201, json={"message": "success"})
    produced = []

    def source():
        for item in attrs(75 * 100):
            produced.append(item.ref)
            yield item

    sender = BatchSender(client, concurrency=2, max_pending=4)
    stream = sender.send("users/track", source())
    next(stream)
    # At most max_pending batches were built ahead, not the whole source.
    assert len(produced) <= 75 * 6
    assert sum(len(r.outcomes) for r in stream) + 75 == 7500


def test_on_wait_is_called_while_braze_keeps_us_waiting(client, requests_mock):
    import time

    def slow(request, context):
        time.sleep(0.3)
        context.status_code = 201
        return {"message": "success"}

    requests_mock.post(TRACK, json=slow)
    waits = []
    results = list(
        BatchSender(client).send("users/track", attrs(3), on_wait=lambda: waits.append(1), on_wait_interval=0.05)
    )
    assert results[0].count("accepted") == 3 and len(waits) >= 3


class CountingClient(BrazeClient):
    """A real client that counts its requests in flight."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.busy = self.most = 0
        self._count = threading.Lock()

    def _send_once(self, *args, **kwargs):
        with self._count:
            self.busy += 1
            self.most = max(self.most, self.busy)
        try:
            return super()._send_once(*args, **kwargs)
        finally:
            with self._count:
                self.busy -= 1


def test_in_flight_follows_rate_times_latency_up_to_the_cap(sandbox):
    # 50 ms answers and Braze's 1,000 /users/track requests a second: about 63 in flight spend the
    # whole budget (the default used to be a fixed 8).
    sandbox.latency = 0.05
    client = CountingClient(sandbox.url, TEST_API_KEY, pool_size=64)
    sender = BatchSender(client)
    results = list(sender.send("users/track", attrs(75 * 300)))
    assert sum(o.status == "accepted" for r in results for o in r.outcomes) == 75 * 300
    assert 40 <= client.most <= 64 and sender.window.limit >= 50

    capped = CountingClient(sandbox.url, TEST_API_KEY, pool_size=64)
    list(BatchSender(capped, concurrency=5).send("users/track", attrs(75 * 40)))
    assert capped.most == 5


# --- a cancelled or interrupted send ends within seconds -----------------------------------------


class Journal:
    """Records what the sender journals, as the sync ledger would."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.outcomes: dict = {}
        self._lock = threading.Lock()

    def before_send(self, batch) -> None:
        with self._lock:
            self.sent.extend(i.ref for i in batch.all_items())

    def after_send(self, result) -> None:
        with self._lock:
            self.outcomes.update({o.item.ref: (o.status, o.reason) for o in result.outcomes})


def refused_for_a_minute() -> dict:
    reset = str(int(time.time()) + 60)
    return {"status_code": 429, "json": {"message": "Rate Limited"}, "headers": {"X-RateLimit-Reset": reset}}


def test_a_cancel_fails_every_waiting_batch_and_raises_within_a_second(requests_mock):
    # Braze refuses everything for a minute (within max_retry_seconds): every request waits to retry.
    client = BrazeClient(BASE, TEST_API_KEY)
    requests_mock.post(TRACK, [refused_for_a_minute()])
    journal, results = Journal(), []
    threading.Timer(0.3, client.cancel, args=("export cancelled (SIGTERM)",)).start()
    started = time.monotonic()
    with pytest.raises(BrazeCancelledError, match=r"export cancelled \(SIGTERM\)"):
        results.extend(
            BatchSender(client, concurrency=2, max_pending=4, journal=journal).send("users/track", attrs(600))
        )
    assert time.monotonic() - started < 1.5
    # Each batch taken from the source is reported failed (none was applied: 429 or never sent) and
    # journaled; batches queued behind the cancel never reached before_send.
    got = outcomes(results)
    assert got and set(got) == set(journal.outcomes) and len(got) % 75 == 0
    assert {status for status, _ in got.values()} == {"failed"}
    assert all(reason.startswith("export cancelled (SIGTERM)") for _, reason in got.values())
    assert set(journal.sent) < set(got) and requests_mock.call_count <= len(journal.sent) // 75


def test_requests_in_flight_get_a_grace_then_their_connections_are_closed(sandbox, monkeypatch):
    monkeypatch.setattr(sender_module, "CANCEL_GRACE", 0.5)
    sandbox.faults.update(slow_rate=1.0, slow_seconds=3.0)
    client = BrazeClient(sandbox.url, TEST_API_KEY)
    threading.Timer(0.2, client.cancel, args=("export cancelled (SIGTERM)",)).start()
    started = time.monotonic()
    events = [
        Item("events", {"external_id": f"u{i}", "name": "e", "time": "2026-01-01T00:00:00Z"}, ref=i) for i in range(150)
    ]
    results = []
    with pytest.raises(BrazeCancelledError):
        results.extend(BatchSender(client, concurrency=2).send("users/track", events))
    took = time.monotonic() - started
    # The answers would have come after 3 s; the connections were closed 0.5 s after the cancel.
    assert 0.6 < took < 1.5, took
    # Braze may have applied them: unknown, never failed (a retry must not send them again).
    assert {status for status, _ in outcomes(results).values()} == {"unknown"}
    time.sleep(3.0)  # the slow requests land in this test's sandbox, not the next one's


def test_an_interrupted_main_thread_does_not_wait_for_the_retries_in_flight(requests_mock):
    # Airflow's execution_timeout raises AirflowTaskTimeout in the main thread (SIGALRM) and calls
    # on_kill only after execute has unwound, so the send must stop its threads on the way out.
    from airflow.sdk.exceptions import AirflowTaskTimeout
    from airflow.sdk.execution_time.timeout import timeout

    client = BrazeClient(BASE, TEST_API_KEY)
    requests_mock.post(TRACK, [refused_for_a_minute()])
    started = time.monotonic()
    with pytest.raises(AirflowTaskTimeout), timeout(1):
        list(BatchSender(client, concurrency=4).send("users/track", attrs(300)))
    assert time.monotonic() - started < 2.0  # the timeout's 1 s, then the threads stop at once
    assert not client.cancel_token.cancelled  # only that send was stopped; the client still works


def test_a_caller_that_stops_reading_does_not_wait_for_the_retries_in_flight(requests_mock):
    client = BrazeClient(BASE, TEST_API_KEY)
    requests_mock.post(TRACK, [{"status_code": 201, "json": {"message": "success"}}, refused_for_a_minute()])
    stream = BatchSender(client, concurrency=1).send("users/track", attrs(300))
    assert next(stream).count("accepted") == 75
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 1.0
