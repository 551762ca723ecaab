"""Incremental syncs: send only what changed, resume after a crash, never send an event twice.

The Airflow-free stage between record builders and the sender that consults the sync ledger
(:mod:`airflow_provider_braze.state.sync_ledger`):

- :mod:`.keys`: whose object it is (hashed), fingerprints of attribute values, event keys, partitions;
- :mod:`.source_digest`: digests of source rows, which settle unchanged attribute rows unbuilt;
- :mod:`.planner`: :class:`~.planner.IncrementalSync`, which decides per object and records outcomes.
"""

from airflow_provider_braze.incremental.keys import partition_of
from airflow_provider_braze.incremental.planner import Entry, IncrementalSync

__all__ = ["Entry", "IncrementalSync", "partition_of"]
