"""Fixtures for the Ketch sandbox tests: a real provider receiver on 127.0.0.1 over a SQLite store, and a
sandbox that sends to it with the suite's Ketch token. Servers live per module (starting and stopping
uvicorn takes ~0.2 s); the store and the sandbox are emptied before every test."""

from __future__ import annotations

import pytest

from airflow_provider_braze.ketch.receiver import create_receiver_app
from airflow_provider_braze.sandbox.ketch import DeliveryRetry, KetchSandbox, UvicornThread
from airflow_provider_braze.state import KetchEventStore
from airflow_provider_braze.state.schema import metadata
from tests.helpers.secrets import CALLBACK_TOKEN, TEST_KETCH_TOKEN


@pytest.fixture(autouse=True)
def no_callback_token_in_logs(no_secret_in_logs):
    """Extend the suite's leak check to the callback token."""
    yield
    leaked = [line for line in no_secret_in_logs.lines if CALLBACK_TOKEN in line]
    assert not leaked, f"callback token found in log lines: {leaked[:3]}"


@pytest.fixture(scope="module")
def module_store(tmp_path_factory):
    s = KetchEventStore(f"sqlite:///{tmp_path_factory.mktemp('ketch-sandbox') / 'state.db'}")
    s.ensure_schema()
    yield s
    s.dispose()


@pytest.fixture(scope="module")
def receiver_url(module_store):
    """The provider's receiver, served by uvicorn on 127.0.0.1, storing into ``module_store``."""
    with UvicornThread(create_receiver_app(module_store, TEST_KETCH_TOKEN), name="ketch-receiver") as server:
        yield server.url + "/ketch/webhook"


@pytest.fixture
def store(module_store):
    """The receiver's store, emptied."""
    with module_store.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    return module_store


@pytest.fixture
def serve_receiver(module_store):
    """``serve_receiver(wrap)``: one more receiver over the same store, its app wrapped; returns (URL, wrapped app)."""
    servers: list[UvicornThread] = []

    def serve(wrap):
        app = wrap(create_receiver_app(module_store, TEST_KETCH_TOKEN))
        servers.append(UvicornThread(app, name="ketch-receiver-wrapped").start())
        return servers[-1].url + "/ketch/webhook", app

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def module_ketch(receiver_url):
    with KetchSandbox(
        receiver_url,
        TEST_KETCH_TOKEN,
        organization="axonic",
        callback_token=CALLBACK_TOKEN,
        retry=DeliveryRetry(delay=0.0),
    ) as sandbox:
        yield sandbox


@pytest.fixture
def ketch(module_ketch, store):
    """A running sandbox sending to the real receiver (retries without delay), emptied, with an empty store."""
    module_ketch.reset()
    module_ketch.forward_web_updates = True
    return module_ketch


@pytest.fixture(scope="module")
def module_web_only():
    with KetchSandbox(organization="axonic", callback_token=CALLBACK_TOKEN) as sandbox:
        yield sandbox


@pytest.fixture
def web_only(module_web_only):
    """A running sandbox with no receiver (Web API and callbacks only), emptied."""
    module_web_only.reset()
    return module_web_only
