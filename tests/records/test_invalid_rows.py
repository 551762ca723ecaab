"""Every kind of invalid row in the catalogue is rejected, naming the expected column."""

from __future__ import annotations

import pytest

from airflow_provider_braze.braze.items import InvalidRecord
from airflow_provider_braze.records import get_builder
from tests.helpers.invalid_rows import INVALID_ROWS


def test_catalogue_holds_at_least_twenty_distinct_kinds():
    kinds = [entry.kind for entry in INVALID_ROWS]
    assert len(kinds) == len(set(kinds))
    assert len(kinds) >= 20


@pytest.mark.parametrize("entry", INVALID_ROWS, ids=[entry.kind for entry in INVALID_ROWS])
def test_invalid_row_is_rejected_naming_the_column(entry):
    result = get_builder(entry.mode, entry.record_type).build(entry.row, 7)

    assert isinstance(result, InvalidRecord), result
    assert result.column == entry.expected_column, result.reason
    assert result.ref == 7
    assert result.row is entry.row


@pytest.mark.parametrize("entry", INVALID_ROWS, ids=[entry.kind for entry in INVALID_ROWS])
def test_invalid_record_reason_is_a_short_sentence_not_the_row(entry):
    result = get_builder(entry.mode, entry.record_type).build(entry.row, 1)

    assert 10 < len(result.reason) < 400
    assert repr(entry.row) not in result.reason
    if entry.expected_column:
        assert entry.expected_column.split("/")[0] in result.reason
