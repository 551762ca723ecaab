"""Warehouse mode: an export sync's state kept in a schema of the source's own warehouse.

The diff runs there, in SQL (the way Hightouch's Lightning engine and Census's bookkeeping schema do):
the query's rows are hashed and compared with what Braze last accepted, and only new or changed rows
leave the warehouse. What Braze accepts goes back as ranges of the plan's row numbers and is merged
set-wise. Nothing here imports Airflow.

- :mod:`.tables`: the tables kept in the state schema;
- :mod:`.hashing`: salted hashes computed by the warehouse itself;
- :mod:`.plan_sql`: the statements of a run (the plan, its counts, its rows, the merge);
- :mod:`.store`: the warehouse's ledger (runs, leases and problems as in the local store, plus plans);
- :mod:`.journal`: what Braze answered, written back as the batches complete;
- :mod:`.sync`: one export run in warehouse mode, as the operator drives it.
"""
