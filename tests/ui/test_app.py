"""Every route of the sync history answers only to users Airflow's auth manager has authenticated."""

from __future__ import annotations

import pytest

ROUTES = [
    "/braze/syncs",
    "/braze/syncs/warehouse.customers",
    "/braze/syncs/warehouse.customers/runs/1",
    "/braze/syncs/warehouse.customers/task-run?run_id=r",
    "/braze/api/syncs",
    "/braze/api/syncs/warehouse.customers/runs",
    "/braze/api/syncs/warehouse.customers/runs/1/problems?format=csv",
]


@pytest.mark.parametrize("path", ROUTES)
def test_anonymous_requests_are_refused(anonymous, ledger, path):
    answer = anonymous.get(path)

    assert answer.status_code == 401
    assert "dob" not in answer.text and "scheduled__" not in answer.text


def test_an_anonymous_page_request_is_told_where_to_log_in(anonymous, ledger):
    page = anonymous.get("/braze/syncs")

    assert page.status_code == 401 and "Log in to Airflow first" in page.text
    assert 'href="/auth/login?next=' in page.text


def test_an_anonymous_api_request_gets_json(anonymous, ledger):
    answer = anonymous.get("/braze/api/syncs")

    assert answer.status_code == 401 and answer.json() == {"detail": "Not authenticated"}


def test_a_forged_token_is_refused(auth_manager, ledger):
    from fastapi.testclient import TestClient

    from tests.helpers.ui import mounted_app

    forged = TestClient(mounted_app(), cookies={"_token": "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhbmEifQ.c2lnbmF0dXJl"})
    answers = [forged.get("/braze/syncs"), forged.get("/braze/api/syncs")]

    assert [a.status_code for a in answers] == [403, 403]
    assert "warehouse.customers" not in answers[0].text + answers[1].text


def test_the_ui_s_cookie_and_a_bearer_token_are_both_accepted(client, api, ledger):
    assert client.get("/braze/syncs").status_code == 200
    assert api.get("/braze/api/syncs").status_code == 200
