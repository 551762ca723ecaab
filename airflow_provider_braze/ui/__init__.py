"""The sync history page in the Airflow 3 UI: every export sync, its runs, and the rows Braze never took.

- :mod:`.figures`: what a run's summary says, in the page's words (refused, unknown, rows/s, health).
- :mod:`.charts`: the two charts across runs, drawn as inline SVG.
- :mod:`.pages`: the HTML pages (Jinja2, everything escaped).
- :mod:`.app`: the FastAPI app (pages and JSON API), every route behind Airflow's auth manager.
- :mod:`.plugin`: :class:`~.plugin.BrazeSyncHistoryPlugin`, which mounts it at ``/braze``.
- :mod:`.links`: the "Braze sync run" extra link of the export operators.

Only :mod:`.links` is imported by operators; nothing here imports FastAPI until a request needs it.
"""
