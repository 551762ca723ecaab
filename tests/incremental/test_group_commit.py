"""Group commit: every caller returns only once its payload is written; concurrent ones share a write."""

from __future__ import annotations

import time

import pytest

from airflow_provider_braze.incremental.group_commit import GroupCommit
from tests.helpers.concurrency import run_at_once


def test_concurrent_payloads_share_writes_and_each_is_written_before_its_caller_returns():
    written: list[int] = []
    groups: list[int] = []

    def write(payloads):
        time.sleep(0.01)  # a commit takes a while; others queue meanwhile
        groups.append(len(payloads))
        written.extend(payloads)

    commit = GroupCommit(write)

    def caller(n: int) -> int:
        commit(n)
        assert n in written  # durable before the caller goes on
        return n

    assert run_at_once(caller, 40) == list(range(40))
    assert sorted(written) == list(range(40))
    assert len(groups) < 40 and max(groups) > 1


def test_a_failed_write_fails_every_caller_of_its_group():
    def write(payloads):
        raise OSError("disk full")

    commit = GroupCommit(write)
    with pytest.raises(OSError, match="disk full"):
        commit("x")


def test_one_caller_alone_writes_its_own_payload():
    seen = []
    GroupCommit(seen.append)("only")
    assert seen == [["only"]]
