"""Property-based tests (hypothesis): the record builders, the batcher's limits, the Ketch collapse.

Each property is one the export relies on for every input, not only the ones a person thought of:
a built object can always be encoded and sent; batches always fit Braze's limits and lose nothing;
the latest choice wins whatever order Ketch's events arrive in.
"""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_braze.braze.batching import Batcher, encode
from airflow_provider_braze.braze.endpoints import get_endpoint
from airflow_provider_braze.braze.items import InvalidRecord, Item
from airflow_provider_braze.ketch.events import KetchEvent, SubscriptionChange
from airflow_provider_braze.ketch.models import Identity
from airflow_provider_braze.ketch.sync_plan import SyncMapping, plan_sync
from airflow_provider_braze.records import AttributesBuilder, EventsBuilder, PurchasesBuilder

# Values as sources hand them over: any text (NUL, lone surrogates included), any integer, any
# float (NaN and infinities included), booleans, None, and JSON-like containers of them.
# Any character (lone surrogates, category Cs, too), with the troublesome ones drawn often.
any_char = st.one_of(
    st.sampled_from(["\x00", "\ud800", "\udc80", "\udfff", "é", "😀", "a"]), st.characters(exclude_categories=())
)
# (st.text leaves lone surrogates out whatever its alphabet: build strings from characters instead.)
any_text = st.lists(any_char, max_size=20).map("".join)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    any_text,
    st.text(alphabet=st.characters(codec="utf-8")),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4), max_leaves=12
)
column_names = st.lists(any_char, min_size=1, max_size=12).map("".join)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_sendable(result: Item | InvalidRecord) -> None:
    """Every build either refuses with a reason or gives an object the batcher can encode."""
    if isinstance(result, InvalidRecord):
        assert result.reason and isinstance(result.reason, str)
        return
    data = encode(result.value)
    assert json.loads(data) == json.loads(json.dumps(result.value, ensure_ascii=False))


@SETTINGS
@given(row=st.dictionaries(column_names, values, max_size=6), external_id=st.one_of(any_text, st.integers()))
def test_attribute_rows_build_to_a_sendable_object_or_a_reason(row, external_id):
    assert_sendable(AttributesBuilder().build({**row, "external_id": external_id}, 1))


@SETTINGS
@given(text=any_text, number=st.integers(), place=st.sampled_from(["value", "nested", "array", "identifier", "key"]))
def test_any_text_or_integer_anywhere_in_a_row_builds_sendable_or_refused(text, number, place):
    # One suspect value in an otherwise good row, so that nothing else refuses the row first.
    assert_sendable(AttributesBuilder().build({"external_id": "u1", "n": number, "m": {"inc": number}}, 1))
    row: dict = {"external_id": "u1"}
    if place == "value":
        row["plan"] = text
    elif place == "nested":
        row["profile"] = {"a": {"b": text}}
    elif place == "array":
        row["tags"] = [text, "x"]
    elif place == "identifier":
        row["external_id"] = text
    else:
        row["profile"] = {text: 1}
    assert_sendable(AttributesBuilder().build(row, 1))
    assert_sendable(EventsBuilder().build({"external_id": "u1", "name": text or "e", "time": 1_700_000_000, **row}, 1))


@SETTINGS
@given(row=st.dictionaries(column_names, values, max_size=5), name=values, time=values)
def test_event_rows_build_to_a_sendable_object_or_a_reason(row, name, time):
    result = EventsBuilder().build({**row, "external_id": "u1", "name": name, "time": time}, 1)
    assert_sendable(result)


@SETTINGS
@given(price=values, quantity=values, currency=values)
def test_purchase_rows_build_to_a_sendable_object_or_a_reason(price, quantity, currency):
    row = {
        "external_id": "u1",
        "product_id": "sku",
        "time": "2026-11-30T10:00:00Z",
        "price": price,
        "quantity": quantity,
        "currency": currency,
    }
    result = PurchasesBuilder().build(row, 1)
    assert_sendable(result)
    if isinstance(result, Item):
        assert 1 <= result.value.get("quantity", 1) <= 100 and isinstance(result.value["price"], float)


@SETTINGS
@given(row=st.dictionaries(st.sampled_from(["plan", "score", "tags", "email", "dob", "country"]), values, max_size=6))
def test_a_valid_attribute_row_keeps_every_value_it_was_given(row):
    result = AttributesBuilder().build({"external_id": "u1", **row}, 1)
    if isinstance(result, Item):
        # Nothing made up, nothing lost silently: every non-null column is in the object.
        assert set(result.value) == {"external_id"} | {k for k, v in row.items() if v is not None and v != ""}


# --- the batcher ---------------------------------------------------------------------------------

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=3000)


@SETTINGS
@given(
    kinds=st.lists(st.tuples(st.sampled_from(["attributes", "events", "purchases"]), texts), max_size=300),
    max_items=st.integers(1, 75),
    max_total=st.integers(1, 200),
    max_bytes=st.integers(3_500, 60_000),
)
def test_batches_respect_every_limit_and_lose_nothing(kinds, max_items, max_total, max_bytes):
    endpoint = replace(
        get_endpoint("users/track").with_limits(max_items=max_items, max_total_items=max_total),
        max_body_bytes=max_bytes,
    )
    items = [Item(key, {"external_id": f"u{n}", "note": text}, ref=n) for n, (key, text) in enumerate(kinds)]

    batches = list(Batcher(endpoint).batches(items))

    seen = []
    for batch in batches:
        seen.extend(item.ref for item in batch.all_items())
        if batch.refusal is not None:  # one object no request can carry: reported, never sent
            assert len(batch) == 1 and len(encode(batch.all_items()[0].value)) + 20 > max_bytes
            continue
        assert len(batch.body()) <= max_bytes
        assert len(batch) <= max_total and all(len(v) <= max_items for v in batch.items.values())
        assert json.loads(batch.body()) == {k: [i.value for i in v] for k, v in batch.items.items()}
    assert sorted(seen) == list(range(len(items)))
    # Within a body key, objects keep their source order (Braze's error index counts in it).
    for key in ("attributes", "events", "purchases"):
        refs = [i.ref for b in batches for i in b.items.get(key, [])]
        assert refs == sorted(refs)


# --- the Ketch collapse --------------------------------------------------------------------------

MAPPING = SyncMapping({"news": {"email": "grp-news"}}, {"email": "emails"})
EMAIL = Identity.model_validate({"identitySpace": "email", "identityFormat": "raw", "identityValue": "ada@example.com"})


@SETTINGS
@given(
    choices=st.lists(st.tuples(st.integers(0, 50), st.sampled_from(["granted", "denied"])), min_size=1, max_size=30),
    order=st.randoms(use_true_random=False),
)
def test_the_latest_choice_wins_in_any_arrival_order_and_with_repeats(choices, order):
    events = [
        KetchEvent(
            uid=f"u{n}",
            api_version="subscription/v1",
            kind="SubscriptionTopicRequest",
            tenant="t",
            received_at=0,
            submitted_at=float(submitted),
            identities=(EMAIL,),
            subscription_changes=(SubscriptionChange("news", "email", status),),
            control_changes=(),
            event_id=n,
        )
        for n, (submitted, status) in enumerate(choices)
    ]
    arrived = events + events[: len(events) // 2]  # some delivered twice
    order.shuffle(arrived)

    (decision,) = plan_sync(arrived, MAPPING).decisions.values()

    winner = max(range(len(choices)), key=lambda n: (choices[n][0], n))
    assert decision.event_id == winner
    assert decision.state == ("subscribed" if choices[winner][1] == "granted" else "unsubscribed")
    assert decision.events == set(range(len(choices)))
