"""The keys and tokens the suite uses. None of them may appear in a log line or in captured output."""

from __future__ import annotations

#: The Braze REST API key every test uses; it must never appear in a log line.
TEST_API_KEY = "test-key-3a9f27c1e5b84d06"
#: The Ketch webhook bearer token tests use; same rule.
TEST_KETCH_TOKEN = "ketch-token-8d41be7702f3"

#: Other keys and tokens the suite uses (permission-scoped keys, receiver tokens); same rule.
SANDBOX_ALL_KEY = "test-key-all"
SANDBOX_TRACK_ONLY_KEY = "test-key-track"
TRACK_ONLY_KEY = "test-key-track-only-0b7e"
RECEIVER_TOKEN = "s3cret-token-value"
RECEIVER_SERVER_TOKEN = "server-test-token-7f3a"
#: The token Ketch rights-request callbacks carry in the sandbox.
CALLBACK_TOKEN = "ketch-callback-token-51c0e9"

SECRETS = (
    TEST_API_KEY,
    TEST_KETCH_TOKEN,
    SANDBOX_ALL_KEY,
    SANDBOX_TRACK_ONLY_KEY,
    TRACK_ONLY_KEY,
    RECEIVER_TOKEN,
    RECEIVER_SERVER_TOKEN,
    CALLBACK_TOKEN,
)

#: The environment variable `make test` sets to a PostgreSQL database; tests that need one skip without it.
POSTGRES_ENV = "BRAZE_PROVIDER_TEST_POSTGRES_URL"
