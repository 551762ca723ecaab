"""Outbound HTTP shared by both halves of the provider: the Braze client and the Ketch clients.

No Airflow imports, and nothing Braze- or Ketch-specific: both ``braze/`` and ``ketch/`` import from
here, never from each other.

- :mod:`.policy`: :class:`~.policy.HttpPolicy`, timeouts, retries with backoff, ``Retry-After``, and
  the redaction of secrets in the retry log; :class:`~.policy.HttpStatusError`, the error a client
  raises for an answer worth judging by its status.
- :mod:`.pacing`: :class:`~.pacing.Pace`, a steady request rate without bursts.
- :mod:`.urls`: which hosts a plain-HTTP URL may name (loopback only).
"""
