"""Where the example DAGs live, for the tests that run them."""

from __future__ import annotations

from pathlib import Path

#: The repository's root folder.
ROOT = Path(__file__).resolve().parents[2]
#: The example DAGs folder, Airflow's DAGs folder in these tests.
DAGS = ROOT / "example_dags"
