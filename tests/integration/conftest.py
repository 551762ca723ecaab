"""The sandbox fixtures (``sandbox``, ``braze_conn``) live in ``tests/conftest.py``."""

from tests.conftest import TRACK_ONLY_KEY  # noqa: F401 - used by the tests here
