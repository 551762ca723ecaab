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
