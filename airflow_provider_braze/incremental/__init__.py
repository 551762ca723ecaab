"""Incremental syncs: send only what changed, resume after a crash, never send an event twice.

The Airflow-free stage between record builders and the sender that consults the sync ledger
(:mod:`airflow_provider_braze.state.sync_ledger`):

- :mod:`.keys`: whose object it is (hashed), fingerprints of attribute values, event keys, partitions;
- :mod:`.source_digest`: digests of source rows, which settle unchanged attribute rows unbuilt;
- :mod:`.planner`: :class:`~.planner.IncrementalSync`, the stage: it streams rows and objects through
  :mod:`.decisions` (what to send of each) and records outcomes through :mod:`.journal`.
"""

from airflow_provider_braze.incremental.decisions import Entry
from airflow_provider_braze.incremental.keys import partition_of
from airflow_provider_braze.incremental.planner import IncrementalSync

__all__ = ["Entry", "IncrementalSync", "partition_of"]
