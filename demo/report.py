"""Print what the Braze sandbox holds after the demo's DAG runs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import requests


def braze_state(url: str) -> dict[str, Any]:
    """The sandbox's whole state, from its read-only inspection endpoint."""
    return requests.get(f"{url}/_sandbox/state", timeout=30).json()


#: Where the demo's profiles come from, by the first part of their external_id.
ORIGINS = {
    "quickstart": "  from example_braze_hook",
    "customer": "  customers (warehouse export)",
    "signup": "  leads identified at signup",
}


def _origin(user: dict[str, Any]) -> str:
    external_id = user.get("external_id") or ""
    prefix = external_id.split("-", 1)[0]
    if prefix in ORIGINS:
        return ORIGINS[prefix]
    return "  CRM leads, alias-only" if not external_id and user.get("aliases") else "  other"


def _counts(state: dict[str, Any]) -> dict[str, int]:
    origins = Counter(_origin(u) for u in state["users"])
    return {
        "user profiles": len(state["users"]),
        **{label: origins.get(label, 0) for label in (*ORIGINS.values(), "  CRM leads, alias-only")},
        "custom events": len(state["events"]),
        "purchases": len(state["purchases"]),
        "deleted profiles": len(state["deleted"]),
        "identify merges": len(state["merges"]),
        "data points billed": state["data_points"],
    }


def print_braze_summary(after_warehouse: dict[str, Any], final: dict[str, Any], *, sample: int = 3) -> None:
    """What Braze holds after the warehouse DAGs and at the end, and what changed it in between."""
    before, now = _counts(after_warehouse), _counts(final)
    print("\nWhat Braze (the sandbox) holds")
    print("-" * 72)
    print(f"{'':<36}{'after the warehouse DAGs':>26}{'now':>10}")
    for label in now:
        print(f"{label:<36}{before[label]:>26,}{now[label]:>10,}")
    erased = [d for d in final["deleted"] if d not in after_warehouse["deleted"]]
    print(
        "\nIn between: the incremental sync rewrote the customers' attributes (its data points), the Ketch "
        "DAGs set subscription states (free in Braze), and the rights requests changed profiles: "
        f"{len(erased)} erased with its events and purchases (the deleted and missing rows above), "
        "one corrected, one unsubscribed from all."
    )
    print("The tables below compare each half with its source.")
    users = final["users"]
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
        (
            "customers (not erased)",
            one(f"select count(*) from customers where external_id not in {deleted}"),
            sum(1 for p in profiles if p and p.startswith("customer-")),
        ),
        (
            "app events of those customers",
            one(f"select count(*) from app_events where external_id not in {deleted}"),
            len(state["events"]),
        ),
        (
            "valid orders of those customers",
            one(
                f"select count(*) from orders where external_id not in {deleted} "
                f"and product_id not like '{INVALID_PRODUCT_PREFIX}%'"
            ),
            len(state["purchases"]),
        ),
        (
            "CRM leads still alias-only",
            one("select count(*) from crm_aliases where alias_name not in (select alias_name from identifications)"),
            sum(1 for u in users if not u.get("external_id") and u.get("aliases")),
        ),
        (
            "leads identified at signup",
            one("select count(*) from identifications"),
            sum(1 for p in profiles if p and p.startswith("signup-")),
        ),
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
    corrected: tuple[str, list[dict]],
    restricted: tuple[str, list[dict]],
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
    names = {
        group: f"{topic}/{channel}"
        for topic, channels in SUBSCRIPTION_GROUPS.items()
        for channel, group in channels.items()
    }
    held = Counter(
        (names.get(g, g), s) for u in state["users"] for g, s in (u.get("subscription_groups") or {}).items()
    )
    documents = [r.get("document") for e in accessed[1] for r in e.get("results", []) if r.get("document")]
    corrected_user = by_email.get(corrected[0]) or {}
    restricted_user = by_email.get(restricted[0]) or {}
    rows: list[tuple[str, Any]] = [
        ("latest choice per (user, topic) in Ketch", f"{len(choices):,}"),
        (
            "  ... that Braze subscription groups hold",
            f"{matching:,} " + ("ok" if matching == len(choices) else "DIFFERS"),
        ),
        *[(f"  subscription group {name}: {status}", f"{count:,}") for (name, status), count in sorted(held.items())],
        ("unsubscribe-all -> global email state", email_states.get(unsubscribed_all) or "not set"),
        ("erasure: profile still in Braze", "yes" if erased_email in by_email else "no"),
        ("erasure: statuses Ketch received", _statuses(erased_events)),
        ("access: statuses Ketch received", _statuses(accessed[1])),
        ("access: profiles returned to Ketch", str(sum(len(d.get("users", [])) for d in documents))),
        (
            "correction: last name / city in Braze",
            " / ".join(str((corrected_user.get("attributes") or {}).get(k)) for k in ("last_name", "home_city")),
        ),
        ("correction: statuses Ketch received", _statuses(corrected[1])),
        (
            "restriction: email / push state in Braze",
            f"{restricted_user.get('email_subscribe')} / {restricted_user.get('push_subscribe')}",
        ),
        ("restriction: statuses Ketch received", _statuses(restricted[1])),
    ]
    print("\nKetch vs Braze")
    print("-" * 96)
    for label, value in rows:
        print(f"{label:<52}{value:>44}")


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
