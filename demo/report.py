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
    subscription_states = Counter(
        (group, status) for u in users for group, status in (u.get("subscription_groups") or {}).items()
    )
    for label, value in rows:
        print(f"{label:<32}{value:>12,}")
    for (group, status), count in sorted(subscription_states.items()):
        print(f"{'subscription ' + group[:12] + ' ' + status:<32}{count:>12,}")
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
    print("\nWarehouse vs Braze")
    print("-" * 72)
    print(f"{'':<36}{'warehouse':>12}{'Braze':>12}")
    for label, expected, held in rows:
        mark = "ok" if expected == held else "DIFFERS"
        print(f"{label:<36}{expected:>12,}{held:>12,}  {mark}")
    print(f"\n{invalid} invalid orders (unknown currency) were skipped and written to .airflow/braze_rejected/.")
