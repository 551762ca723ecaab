"""Global email state endpoints: ``/email/status``, ``/email/blocklist`` (and ``/email/blacklist``),
``/email/bounce/remove``, ``/email/spam/remove``, ``/email/unsubscribes``, ``/email/hard_bounces``
(https://www.braze.com/docs/api/endpoints/email/).

Sandbox choices where Braze's documentation is silent:

* POSTs answer 201 ``{"message": "success"}``; an address that is not a non-empty string is a 400;
* ``/email/status`` and ``/email/blocklist`` change every profile with the address and keep the
  state for addresses on no profile yet (a profile that later gets the address adopts it);
* ``/email/bounce/remove`` also lifts a blocklisting (its bounce part); the unsubscription stays;
* ``/email/unsubscribes`` lists addresses whose global state is ``unsubscribed`` now, stamped with
  the time they became so; resubscribing takes an address off the list;
* dates: ``end_date`` is required, and ``email`` or ``start_date``; both are ``YYYY-MM-DD`` read as
  midnight UTC, ``start_date`` must be earlier than ``end_date``, and the range is
  ``start_date 00:00 <= t < end_date 00:00`` (the end day itself is not included: ask for
  tomorrow to include today); ``limit`` 1..500 (default 100), ``offset`` >= 0, ``sort_direction``
  ``asc`` or ``desc`` (default ``desc``, newest first); anything else is a 400;
* ``/email/hard_bounces`` takes the same parameters and answers
  ``{"emails": [{"email", "hard_bounced_at"}], "message": "success"}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from airflow_provider_braze.sandbox.braze.context import Call
from airflow_provider_braze.sandbox.braze.email_lists import EmailEntry, EmailLists
from airflow_provider_braze.sandbox.braze.messages import Response, error, success
from airflow_provider_braze.sandbox.braze.profile import norm_email
from airflow_provider_braze.sandbox.braze.request_rules import as_list, nonempty_str
from airflow_provider_braze.sandbox.braze.timeparse import iso, parse_day

EMAIL_STATES = frozenset({"subscribed", "unsubscribed", "opted_in"})
MAX_PAGE = 500


def _emails(call: Call) -> tuple[list[str], Response | None]:
    emails = as_list((call.body or {}).get("email"))
    if not emails:
        return [], error(400, "'email' is required")
    if not all(nonempty_str(e) for e in emails):
        return [], error(400, "'email' must be a non-empty string or an array of them")
    return emails, None


def _set_profiles(call: Call, email: str, state: str) -> None:
    for user in call.store.get_by_email(email):
        user.email_subscribe = state
        call.store.touch(user)


def _for_each_email(call: Call, change: Callable[[EmailLists, str], object]) -> Response:
    """Check ``email``, then call ``change(email_lists, address)`` for each address under the store's lock; answer 201.

    The lists are looked up under the lock: a reset replaces them.
    """
    emails, problem = _emails(call)
    if problem:
        return problem
    with call.store.lock:
        for email in emails:
            change(call.store.email_lists, email)
    return success(201)


def handle_status(call: Call) -> Response:
    state = (call.body or {}).get("subscription_state")
    if state not in EMAIL_STATES:
        # The addresses are checked first, as for every other endpoint here.
        return _emails(call)[1] or error(400, "'subscription_state' must be 'subscribed', 'unsubscribed' or 'opted_in'")
    now = time.time()

    def change(lists: EmailLists, email: str) -> None:
        lists.set_state(email, state, now)
        _set_profiles(call, email, state)

    return _for_each_email(call, change)


def handle_blocklist(call: Call) -> Response:
    now = time.time()

    def change(lists: EmailLists, email: str) -> None:
        lists.blocklist(email, now)
        _set_profiles(call, email, "unsubscribed")

    return _for_each_email(call, change)


def handle_bounce_remove(call: Call) -> Response:
    return _for_each_email(call, EmailLists.remove_bounce)


def handle_spam_remove(call: Call) -> Response:
    return _for_each_email(call, EmailLists.remove_spam)


def _page_params(call: Call) -> tuple[dict, Response | None]:
    end = parse_day(call.query("end_date"))
    if end is None:
        return {}, error(400, "'end_date' is required, as YYYY-MM-DD")
    email, raw_start = call.query("email"), call.query("start_date")
    if not email and raw_start is None:
        return {}, error(400, "Provide 'email' or 'start_date'")
    start = parse_day(raw_start) if raw_start is not None else None
    if raw_start is not None and start is None:
        return {}, error(400, "'start_date' must be YYYY-MM-DD")
    if start is not None and start >= end:
        return {}, error(400, "'start_date' must be earlier than 'end_date'")
    try:
        limit, offset = int(call.query("limit") or 100), int(call.query("offset") or 0)
    except ValueError:
        return {}, error(400, "'limit' and 'offset' must be integers")
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        return {}, error(400, f"'limit' must be 1 to {MAX_PAGE} and 'offset' at least 0")
    direction = call.query("sort_direction") or "desc"
    if direction not in ("asc", "desc"):
        return {}, error(400, "'sort_direction' must be 'asc' or 'desc'")
    params = {
        "start": start.timestamp() if start else None,
        "end": end.timestamp(),
        "email": email,
        "limit": limit,
        "offset": offset,
        "descending": direction == "desc",
    }
    return params, None


def _page(call: Call, pick: Callable[[EmailEntry], float | None], field: str) -> Response:
    params, problem = _page_params(call)
    if problem:
        return problem
    with call.store.lock:
        rows = [
            (at, entry.email)
            for entry in call.store.email_lists.entries.values()
            if (at := pick(entry)) is not None
            and at < params["end"]
            and (params["start"] is None or at >= params["start"])
            and (not params["email"] or norm_email(entry.email) == norm_email(params["email"]))
        ]
    rows.sort(reverse=params["descending"])
    page = rows[params["offset"] : params["offset"] + params["limit"]]
    return success(200, emails=[{"email": email, field: iso(at)} for at, email in page])


def handle_unsubscribes(call: Call) -> Response:
    return _page(call, lambda e: e.state_changed_at if e.state == "unsubscribed" else None, "unsubscribed_at")


def handle_hard_bounces(call: Call) -> Response:
    return _page(call, lambda e: e.hard_bounced_at, "hard_bounced_at")
