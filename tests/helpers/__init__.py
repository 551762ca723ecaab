"""Helpers the tests import: constants, builders and small fakes. Fixtures stay in the ``conftest.py`` files."""
