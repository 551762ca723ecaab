"""Print what the Braze sandbox holds after the demo's DAG runs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import requests


def braze_state(url: str) -> dict[str, Any]:
    """The sandbox's whole state, from its read-only inspection endpoint."""
    return requests.get(f"{url}/_sandbox/state", timeout=30).json()


def print_braze_summary(state: dict[str, Any], *, sample: int = 5) -> None:
    users = state["users"]
    print("\nWhat Braze (the sandbox) now holds")
    print("-" * 60)
    rows = [
        ("user profiles", len(users)),
        ("  with an external_id", sum(1 for u in users if u.get("external_id"))),
        ("  alias-only", sum(1 for u in users if not u.get("external_id") and u.get("aliases"))),
        ("custom events", len(state["events"])),
        ("purchases", len(state["purchases"])),
        ("deleted profiles", len(state["deleted"])),
        ("identify merges", len(state["merges"])),
        ("data points billed", state["data_points"]),
    ]
    for label, value in rows:
        print(f"{label:<32}{value:>12,}")
    if users:
        print("\nSample profiles:")
        for user in users[:sample]:
            ident = user.get("external_id") or next(iter(user.get("aliases") or {}), user["braze_id"])
            attrs = ", ".join(f"{k}={v!r}" for k, v in list((user.get("custom_attributes") or {}).items())[:4])
            print(f"  {ident}: {attrs}")


def print_warehouse_comparison(db_path, state: dict[str, Any]) -> None:
    """Side by side: what the sample warehouse says Braze should hold, and what it holds."""
    import sqlite3

    from demo.warehouse import INVALID_PRODUCT_PREFIX

    db = sqlite3.connect(db_path)
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    deleted = "(select external_id from deletions)"
    users = state["users"]
    profiles = {u.get("external_id") for u in users}
    rows = [
        ("customers (not erased)",
         one(f"select count(*) from customers where external_id not in {deleted}"),
         sum(1 for p in profiles if p and p.startswith("customer-"))),
        ("app events of those customers",
         one(f"select count(*) from app_events where external_id not in {deleted}"), len(state["events"])),
        ("valid orders of those customers",
         one(f"select count(*) from orders where external_id not in {deleted} "
             f"and product_id not like '{INVALID_PRODUCT_PREFIX}%'"), len(state["purchases"])),
        ("CRM leads still alias-only",
         one("select count(*) from crm_aliases where alias_name not in (select alias_name from identifications)"),
         sum(1 for u in users if not u.get("external_id") and u.get("aliases"))),
        ("leads identified at signup",
         one("select count(*) from identifications"), sum(1 for p in profiles if p and p.startswith("signup-"))),
        ("erasure requests", one("select count(*) from deletions"), len(state["deleted"])),
    ]
    invalid = one(f"select count(*) from orders where product_id like '{INVALID_PRODUCT_PREFIX}%'")
    db.close()
    print("\nWarehouse vs Braze (after the warehouse DAGs)")
    print("-" * 72)
    print(f"{'':<36}{'warehouse':>12}{'Braze':>12}")
    for label, expected, held in rows:
        mark = "ok" if expected == held else "DIFFERS"
        print(f"{label:<36}{expected:>12,}{held:>12,}  {mark}")
    print(f"\n{invalid} invalid orders (unknown currency) were skipped and written to .airflow/braze_rejected/.")


def print_ketch_comparison(
    state: dict[str, Any],
    *,
    expected: list[list[str]],
    unsubscribed_all: str,
    erased: tuple[str, list[dict]],
    accessed: tuple[str, list[dict]],
) -> None:
    """Ketch's side (each user's latest choice, rights requests) next to what Braze holds."""
    from example_dags.ketch_settings import SUBSCRIPTION_GROUPS

    braze_state = {"granted": "subscribed", "denied": "unsubscribed"}
    by_email = {u["email"]: u for u in state["users"] if u.get("email")}
    erased_email, erased_events = erased
    choices = [(i, t, c, s) for i, t, c, s in expected if i != erased_email]
    matching = sum(
        1
        for identity, topic, channel, status in choices
        if (by_email.get(identity) or {}).get("subscription_groups", {}).get(SUBSCRIPTION_GROUPS[topic][channel])
        == braze_state[status]
    )
    email_states = {e["email"]: e["state"] for e in state["emails"]}
    _accessed_email, accessed_events = accessed
    print("\nKetch vs Braze")
    print("-" * 72)
    mark = "ok" if matching == len(choices) else "DIFFERS"
    print(f"{'latest choice per (user, topic) in Ketch':<48}{len(choices):>8,}")
    print(f"{'  ... that Braze subscription groups hold':<48}{matching:>8,}  {mark}")
    names = {group: f"{topic}/{channel}" for topic, channels in SUBSCRIPTION_GROUPS.items() for channel, group in channels.items()}
    held = Counter((names.get(g, g), s) for u in state["users"] for g, s in (u.get("subscription_groups") or {}).items())
    for (name, status), count in sorted(held.items()):
        print(f"{'  subscription group ' + name + ': ' + status:<48}{count:>8,}")
    global_state = email_states.get(unsubscribed_all)
    print(f"{'unsubscribe-all -> global email state':<48}{global_state or 'not set':>12}")
    print(f"{'erasure request: profile still in Braze':<48}{'yes' if erased_email in by_email else 'no':>12}")
    print(f"{'erasure request: statuses Ketch received':<48}{_statuses(erased_events):>24}")
    print(f"{'access request: statuses Ketch received':<48}{_statuses(accessed_events):>24}")
    documents = [r.get("document") for e in accessed_events for r in e.get("results", []) if r.get("document")]
    users = sum(len(d.get("users", [])) for d in documents)
    print(f"{'access request: profiles returned to Ketch':<48}{users:>12}")


def _statuses(events: list[dict]) -> str:
    return " -> ".join(f"{e['status']}/{e['reason']}" for e in events) or "none"


def print_incremental_runs(runs: list[dict[str, Any]]) -> None:
    """The incremental sync's two runs, each summed over its four partitions, from the sync ledger."""
    by_run: dict[str, list[dict[str, Any]]] = {}
    for run in sorted(runs, key=lambda r: r["started_at"]):
        by_run.setdefault(run["run_id"], []).append(run)
    print("\nIncremental sync of the customers table (4 partitions, only_changed=True; from the sync ledger)")
    print("-" * 72)
    columns = ("rows_read", "rows_sent", "unchanged", "data_points", "data_points_saved")
    print(f"{'run':<8}" + "".join(f"{c:>19}" for c in columns))
    for number, parts in enumerate(by_run.values(), 1):
        totals = [sum((p["summary"] or {}).get(c, 0) for p in parts) for c in columns]
        print(f"{number:<8}" + "".join(f"{t:>19,}" for t in totals))
