"""What the ledger keys on: identities, fingerprints, event keys, partitions."""

from __future__ import annotations

from collections import Counter

import pytest

from airflow_provider_braze.incremental.keys import (
    column_key,
    fingerprint,
    identity_text,
    is_operation,
    is_repeatable_operation,
    object_key,
    partition_of,
    user_hash,
)

SALT = b"0123456789abcdef"


def test_fingerprints_are_pinned_because_stored_ledgers_depend_on_them():
    # Changing how values are fingerprinted would make every stored user look changed: one full resend.
    assert fingerprint("pro") == 6807225601493773348
    assert fingerprint(1) == -5896866678401020150
    assert fingerprint({"b": 1, "a": 2}) == 4611802348539408375
    assert partition_of("external_id:u1", 4) == 2


@pytest.mark.parametrize(("a", "b"), [("1", 1), (1, 1.0), (1, True), (0, False), (None, ""), ([1, 2], [2, 1])])
def test_values_braze_stores_differently_have_different_fingerprints(a, b):
    assert fingerprint(a) != fingerprint(b)


def test_object_key_order_does_not_matter():
    assert fingerprint({"a": 1, "b": [1, {"y": 2, "x": 1}]}) == fingerprint({"b": [1, {"x": 1, "y": 2}], "a": 1})


def test_identity_follows_brazes_precedence():
    assert identity_text({"email": "a@b.co", "external_id": "u1"}) == "external_id:u1"
    assert identity_text({"email": "a@b.co", "phone": "+1"}) == "email:a@b.co"
    assert identity_text({"user_alias": {"alias_name": "n", "alias_label": "l"}}) == "user_alias:l\x00n"
    assert identity_text({"plan": "pro"}) is None


def test_user_hashes_depend_on_the_salt_so_a_stolen_ledger_cannot_be_matched_to_emails():
    assert user_hash(SALT, "email:a@b.co") != user_hash(b"another salt 16b", "email:a@b.co")
    assert len(user_hash(SALT, "email:a@b.co")) == 16


def test_an_event_key_ignores_processing_flags_but_not_content():
    event = {"external_id": "u1", "name": "paid", "time": "2026-11-01T00:00:00.000Z"}
    assert object_key(event, SALT) == object_key({**event, "_update_existing_only": True}, SALT)
    assert object_key(event, SALT) != object_key({**event, "time": "2026-11-01T00:00:01.000Z"}, SALT)
    assert column_key(17, SALT) == column_key("17", SALT) != object_key(event, SALT)


def test_operations_and_which_of_them_count_twice():
    assert is_operation({"inc": 1}) and not is_repeatable_operation({"inc": 1})
    assert is_operation({"add": ["a"]}) and is_repeatable_operation({"add": ["a"]})
    assert is_operation({"$add": [{"id": 1}]}) and not is_repeatable_operation({"$add": [{"id": 1}]})
    assert not is_operation({"city": "Lyon"}) and not is_operation({"$time": "2026-01-01"})


def test_partitions_are_stable_and_even():
    counts = Counter(partition_of(f"external_id:u{i}", 4) for i in range(40_000))
    assert set(counts) == {0, 1, 2, 3}
    assert all(9_500 < n < 10_500 for n in counts.values())
