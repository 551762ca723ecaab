"""The Braze client core: instances, endpoint catalogue, errors, rate limiting, transport, batching.

Nothing here imports Airflow, so it can be tested and benchmarked on its own.
"""
