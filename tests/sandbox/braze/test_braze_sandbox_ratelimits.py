"""Rate limits in the sandbox: fixed windows per catalogue group, headers on every response, 429."""

from __future__ import annotations

import math
import time

from airflow_provider_braze.braze.endpoints import RATE_LIMIT_GROUPS
from airflow_provider_braze.braze.rate_limit_headers import RateLimitHeaders

ONE = {"attributes": [{"external_id": "u"}]}


def test_every_response_carries_the_catalogue_limit_and_an_integer_reset(braze):
    response = braze.post("/users/track", ONE)
    headers = RateLimitHeaders.parse(response.headers)
    assert headers.limit == RATE_LIMIT_GROUPS["users_track"].limit
    assert headers.remaining == headers.limit - 1
    assert response.headers["X-RateLimit-Reset"].isdigit()
    assert int(response.headers["X-RateLimit-Reset"]) % RATE_LIMIT_GROUPS["users_track"].period == 0


def test_error_responses_carry_rate_limit_headers_too(braze, braze_client_for):
    assert "X-RateLimit-Remaining" in braze.post("/users/track", {"attributes": [{}] * 76}).headers
    assert (
        "X-RateLimit-Remaining"
        in braze_client_for("test-key-track").post("/users/delete", {"external_ids": ["u"]}).headers
    )


def test_get_endpoints_use_the_default_group(braze):
    response = braze.get("/cdi/integrations")
    assert response.headers["X-RateLimit-Limit"] == str(RATE_LIMIT_GROUPS["cdi_integrations"].limit)
    response = braze.get("/email/hard_bounces", {"start_date": "2020-01-01", "end_date": "2030-01-01"})
    assert response.headers["X-RateLimit-Limit"] == str(RATE_LIMIT_GROUPS["default"].limit)


def test_over_the_limit_is_429_rate_limited_with_headers_and_nothing_applied(braze_sandbox, braze, fresh_window):
    braze_sandbox.set_rate_limit("users_track", limit=3, period=60)
    fresh_window(60)
    remaining = [
        braze.post("/users/track", {"attributes": [{"external_id": f"u{i}"}]}).headers["X-RateLimit-Remaining"]
        for i in range(3)
    ]
    refused = braze.post("/users/track", {"attributes": [{"external_id": "late"}]})
    assert remaining == ["2", "1", "0"]
    assert (refused.status_code, refused.json()) == (429, {"message": "Rate Limited"})
    assert refused.headers["X-RateLimit-Remaining"] == "0" and refused.headers["X-RateLimit-Limit"] == "3"
    assert int(refused.headers["X-RateLimit-Reset"]) > time.time()
    assert braze_sandbox.store.find_user(external_id="late") is None


def test_window_resets_at_the_announced_time(braze_sandbox, braze, fresh_window):
    braze_sandbox.set_rate_limit("users_track", limit=1, period=1)
    fresh_window(1, margin=0.3)
    braze.post("/users/track", ONE)
    refused = braze.post("/users/track", ONE)
    assert refused.status_code == 429
    time.sleep(max(0.0, int(refused.headers["X-RateLimit-Reset"]) - time.time()) + 0.02)
    assert braze.post("/users/track", ONE).status_code == 201


def test_identity_endpoints_share_one_window(braze_sandbox, braze, fresh_window):
    braze_sandbox.set_rate_limit("users_identity", limit=2, period=60)
    fresh_window(60)
    braze.post("/users/alias/new", {"user_aliases": [{"alias_name": "a", "alias_label": "l"}]})
    braze.post(
        "/users/identify",
        {"aliases_to_identify": [{"external_id": "u", "user_alias": {"alias_name": "a", "alias_label": "l"}}]},
    )
    assert braze.post("/users/delete", {"external_ids": ["u"]}).status_code == 429
    assert braze_sandbox.store.find_user(external_id="u") is not None


def test_groups_are_counted_separately(braze_sandbox, braze, fresh_window):
    braze_sandbox.set_rate_limit("users_track", limit=1, period=60)
    fresh_window(60)
    braze.post("/users/track", ONE)
    assert (
        braze.post("/users/alias/new", {"user_aliases": [{"alias_name": "a", "alias_label": "l"}]}).status_code == 201
    )


def test_constructor_rate_limits_override_the_catalogue():
    import requests

    from airflow_provider_braze.sandbox.braze import BrazeSandbox

    with BrazeSandbox(api_keys={"k": None}, rate_limits={"users_track": (9, 30.0)}) as sandbox:
        response = requests.post(
            sandbox.url + "/users/track", json=ONE, headers={"Authorization": "Bearer k"}, timeout=5
        )
        assert response.headers["X-RateLimit-Limit"] == "9"


def test_a_window_can_start_now_so_its_reset_is_a_whole_period_ahead(braze_sandbox, braze):
    # An hourly limit whose hour began just now: what a Monthly Active Users CY 24-25 workspace sees.
    began = time.time()
    braze_sandbox.set_rate_limit("users_track", limit=2, period=3600, start=began)
    answers = [braze.post("/users/track", ONE) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert {int(a.headers["X-RateLimit-Reset"]) for a in answers} == {math.ceil(began + 3600)}
