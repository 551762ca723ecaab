"""Global email state endpoints in the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

TOMORROW = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d")
TODAY = datetime.now(timezone.utc).strftime("%Y-%m-%d")
LONG_AGO = "2000-01-01"


def test_email_status_updates_every_profile_with_the_address(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "a", "email": "s@x.io"}, {"external_id": "b", "email": "S@x.io"}])
    response = braze.post("/email/status", {"email": "s@x.io", "subscription_state": "opted_in"})
    assert (response.status_code, response.json()) == (201, {"message": "success"})
    assert {u.email_subscribe for u in braze_sandbox.store.users()} == {"opted_in"}


def test_email_status_for_an_unknown_address_applies_when_a_profile_gets_it(braze_sandbox, braze):
    braze.post("/email/status", {"email": ["later@x.io"], "subscription_state": "unsubscribed"})
    braze.track(attributes=[{"external_id": "u", "email": "later@x.io"}])
    assert braze_sandbox.store.find_user(external_id="u").email_subscribe == "unsubscribed"


def test_email_status_with_invalid_state_is_400(braze):
    assert braze.post("/email/status", {"email": "a@x.io", "subscription_state": "gone"}).status_code == 400


def test_email_status_with_51_emails_is_400_and_nothing_applied(braze_sandbox, braze):
    response = braze.post(
        "/email/status", {"email": [f"{i}@x.io" for i in range(51)], "subscription_state": "unsubscribed"}
    )
    assert response.status_code == 400
    assert braze_sandbox.store.unsubscribed_emails() == []


@pytest.mark.parametrize("path", ["/email/blocklist", "/email/blacklist"])
def test_blocklist_unsubscribes_and_hard_bounces(braze_sandbox, braze, path):
    braze.track(attributes=[{"external_id": "u", "email": "b@x.io", "email_subscribe": "opted_in"}])
    assert braze.post(path, {"email": ["b@x.io"]}).status_code == 201
    assert braze_sandbox.store.find_user(external_id="u").email_subscribe == "unsubscribed"
    assert braze_sandbox.store.hard_bounced_emails() == ["b@x.io"]
    assert braze_sandbox.store.blocklisted_emails() == ["b@x.io"]


def test_bounce_remove_takes_the_address_off_the_hard_bounce_list(braze_sandbox, braze):
    braze_sandbox.store.mark_hard_bounced("h@x.io")
    braze.post("/email/bounce/remove", {"email": "h@x.io"})
    assert braze_sandbox.store.hard_bounced_emails() == []


def test_spam_remove_takes_the_address_off_the_spam_list(braze_sandbox, braze):
    braze_sandbox.store.mark_spam("s@x.io")
    braze.post("/email/spam/remove", {"email": ["s@x.io"]})
    assert braze_sandbox.store.spam_emails() == []


def test_unsubscribes_pages_with_limit_and_offset_newest_first(braze_sandbox, braze):
    for i in range(5):
        braze.post("/email/status", {"email": f"u{i}@x.io", "subscription_state": "unsubscribed"})
    first = braze.get("/email/unsubscribes", {"start_date": LONG_AGO, "end_date": TOMORROW, "limit": 3})
    second = braze.get("/email/unsubscribes", {"start_date": LONG_AGO, "end_date": TOMORROW, "limit": 3, "offset": 3})
    emails = [row["email"] for row in first.json()["emails"] + second.json()["emails"]]
    assert emails == [f"u{i}@x.io" for i in reversed(range(5))]
    assert set(first.json()["emails"][0]) == {"email", "unsubscribed_at"}


def test_unsubscribes_sort_ascending(braze_sandbox, braze):
    for i in range(3):
        braze.post("/email/status", {"email": f"u{i}@x.io", "subscription_state": "unsubscribed"})
    rows = braze.get(
        "/email/unsubscribes", {"start_date": LONG_AGO, "end_date": TOMORROW, "sort_direction": "asc"}
    ).json()
    assert [r["email"] for r in rows["emails"]] == ["u0@x.io", "u1@x.io", "u2@x.io"]


def test_unsubscribes_end_date_is_exclusive_midnight(braze_sandbox, braze):
    braze.post("/email/status", {"email": "today@x.io", "subscription_state": "unsubscribed"})
    assert braze.get("/email/unsubscribes", {"start_date": LONG_AGO, "end_date": TODAY}).json()["emails"] == []


def test_unsubscribes_by_email_needs_no_start_date(braze_sandbox, braze):
    braze.post("/email/status", {"email": "one@x.io", "subscription_state": "unsubscribed"})
    rows = braze.get("/email/unsubscribes", {"email": "one@x.io", "end_date": TOMORROW}).json()["emails"]
    assert [r["email"] for r in rows] == ["one@x.io"]


def test_resubscribing_takes_the_address_off_the_unsubscribes(braze_sandbox, braze):
    braze.post("/email/status", {"email": "r@x.io", "subscription_state": "unsubscribed"})
    braze.post("/email/status", {"email": "r@x.io", "subscription_state": "subscribed"})
    assert braze.get("/email/unsubscribes", {"start_date": LONG_AGO, "end_date": TOMORROW}).json()["emails"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": LONG_AGO},
        {"end_date": TOMORROW},
        {"start_date": "2024-13-01", "end_date": TOMORROW},
        {"start_date": TOMORROW, "end_date": LONG_AGO},
        {"start_date": LONG_AGO, "end_date": TOMORROW, "limit": 501},
        {"start_date": LONG_AGO, "end_date": TOMORROW, "offset": -1},
        {"start_date": LONG_AGO, "end_date": TOMORROW, "sort_direction": "up"},
    ],
    ids=["no-end", "no-start-no-email", "bad-start", "start-after-end", "limit-501", "negative-offset", "bad-sort"],
)
def test_unsubscribes_refuses_bad_date_and_paging_parameters(braze, params):
    assert braze.get("/email/unsubscribes", params).status_code == 400


def test_hard_bounces_lists_bounced_addresses(braze_sandbox, braze):
    braze.post("/email/blocklist", {"email": "hb@x.io"})
    rows = braze.get("/email/hard_bounces", {"start_date": LONG_AGO, "end_date": TOMORROW}).json()["emails"]
    assert [r["email"] for r in rows] == ["hb@x.io"] and "hard_bounced_at" in rows[0]
