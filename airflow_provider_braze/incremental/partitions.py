"""Partitions: one source split among mapped tasks by a stable hash of each row's user.

A user always lands in the same partition (same hash on every host and run), so partitions running
at once never write the same user, and they can share one sync ledger and one workspace's rate limit.
Rows that name no user (invalid ones) belong to partition 0, so each is reported exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_braze.braze.items import InvalidRecord, Item
from airflow_provider_braze.incremental.keys import identity_text, partition_of


@dataclass(frozen=True)
class Partition:
    """Partition ``index`` of ``count`` (0-based).

    :param index: this task's share, ``0 <= index < count``.
    :param count: how many partitions the source is split into.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(
                f"partition must be (index, count) with 0 <= index < count, got ({self.index}, {self.count})"
            )

    @classmethod
    def parse(cls, value: Partition | Sequence[int] | str) -> Partition:
        """A partition from ``(index, count)`` (a tuple, a list from XCom or ``expand``) or ``"index/count"``."""
        if isinstance(value, Partition):
            return value
        parts: Any = value.split("/") if isinstance(value, str) else value
        try:
            index, count = (int(p) for p in parts)
        except (TypeError, ValueError):
            raise ValueError(f"partition must be (index, count), e.g. (0, 4), got {value!r}") from None
        return cls(index, count)

    def holds(self, built: Item | InvalidRecord) -> bool:
        """Whether a built object (or a row found invalid) belongs to this partition."""
        text = _identity(built.value if isinstance(built, Item) else built.row, built)
        if text is None:
            return self.index == 0
        return partition_of(text, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def _identity(value: Any, built: Item | InvalidRecord) -> str | None:
    if isinstance(value, Mapping):
        return identity_text(value)
    if isinstance(value, str) and isinstance(built, Item):
        # /users/delete lists plain ids in external_ids and braze_ids: name them as track objects do.
        return f"{built.key.removesuffix('s')}:{value}"
    return None
