"""Source-row digests: equal rows under one context digest alike, anything that could build otherwise does not."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from airflow_provider_braze.incremental.source_digest import source_digester

SALT = b"0123456789abcdef"
ROW = {"external_id": "u1", "plan": "pro", "score": 3}


def test_one_row_under_one_context_has_one_digest():
    digest = source_digester(SALT, "sync 1")
    assert digest(ROW) == digest(dict(ROW)) == source_digester(SALT, "sync 1")(ROW)
    assert len(digest(ROW)) == 16


@pytest.mark.parametrize(
    ("salt", "context"), [(b"another salt....", "sync 1"), (SALT, "sync 2")], ids=["salt", "context"]
)
def test_another_salt_or_context_gives_another_digest(salt, context):
    assert source_digester(salt, context)(ROW) != source_digester(SALT, "sync 1")(ROW)


@pytest.mark.parametrize(
    "other",
    [
        {**ROW, "score": 4},
        {**ROW, "score": 3.0},
        {**ROW, "score": "3"},
        {**ROW, "score": Decimal(3)},
        {**ROW, "score": None},
        {"plan": "pro", "external_id": "u1", "score": 3},  # another column order
        {**ROW, "extra": None},
    ],
    ids=["value", "float", "text", "decimal", "null", "order", "column"],
)
def test_a_row_that_could_build_otherwise_digests_otherwise(other):
    digest = source_digester(SALT, "sync 1")
    assert digest(other) != digest(ROW)


def test_values_that_encode_alike_but_differ_in_type_differ():
    # MessagePack writes a Decimal and a date as text: the types keep them apart.
    digest = source_digester(SALT, "sync 1")
    assert digest({"x": Decimal("1.5")}) != digest({"x": "1.5"})
    assert digest({"x": date(2026, 1, 2)}) != digest({"x": "2026-01-02"})


def test_a_row_without_faithful_bytes_or_a_builder_without_settings_never_matches():
    digest = source_digester(SALT, "sync 1")
    assert digest({"x": object()}) != digest({"x": object()})
    assert source_digester(SALT, None)(ROW) != source_digester(SALT, None)(ROW)
