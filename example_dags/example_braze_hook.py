"""Send customer attributes to Braze with BrazeHook from a TaskFlow task.

The smallest useful job: a task builds Braze attribute objects and hands them to the hook, which
batches them (75 per /users/track request), rate-limits, retries, and reports per-object outcomes.
The export operators wrap the same machinery for SQL tables and files.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

CUSTOMERS = [
    {"external_id": f"quickstart-{i:03d}", "first_name": name, "plan": plan, "lifetime_value": ltv}
    for i, (name, plan, ltv) in enumerate(
        [("Ada", "pro", 1200.5), ("Grace", "free", 0.0), ("Linus", "team", 310.0), ("Margaret", "pro", 980.25)] * 30
    )
]


@dag(
    dag_id="example_braze_hook",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["braze", "example"],
)
def example_braze_hook():
    @task
    def send_customer_attributes() -> dict:
        from airflow_provider_braze.braze.items import Item
        from airflow_provider_braze.hooks.braze import BrazeHook

        items = (Item("attributes", customer, ref=n) for n, customer in enumerate(CUSTOMERS, start=1))
        counts: dict[str, int] = {}
        for result in BrazeHook().send("users/track", items):
            for outcome in result.outcomes:
                counts[outcome.status] = counts.get(outcome.status, 0) + 1
        if counts.get("accepted", 0) != len(CUSTOMERS):
            raise RuntimeError(f"Braze did not accept every customer: {counts}")
        return counts

    send_customer_attributes()


example_braze_hook()
