"""The demo's sample warehouse: a SQLite database with three days of customer data.

Every table has a timestamp column, so the example DAG's incremental SQL (one daily data interval per
run) picks exactly one day's rows. The data is generated from a fixed seed: the same every time.
"""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

ONE_DAY = timedelta(days=1)
#: The days the sample data covers; `airflow dags test <dag> 2026-11-19` exports 2026-11-18.
DAYS = [datetime(2026, 11, 18, tzinfo=timezone.utc) + n * ONE_DAY for n in range(3)]
#: Rows in the orders table that are invalid on purpose (unknown currency), to show skip and report.
INVALID_PRODUCT_PREFIX = "invalid-"

SCHEMA = """
create table customers (
    external_id text primary key, email text, first_name text, last_name text, plan text,
    lifetime_value real, country text, dob text, tags text, address text, updated_at text not null
);
create table app_events (
    external_id text not null, name text not null, time text not null, properties text, app_id text
);
create table orders (
    external_id text not null, product_id text not null, currency text not null, price real not null,
    quantity integer, time text not null
);
create table crm_aliases (
    alias_name text not null, alias_label text not null, external_id text, created_at text not null
);
create table identifications (
    external_id text not null, alias_name text not null, alias_label text not null, identified_at text not null
);
create table deletions (external_id text not null, requested_at text not null);
"""

FIRST = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Dennis", "Frances", "Ken", "Radia"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Liskov", "Ritchie", "Allen", "Thompson", "Perlman"]
PLANS = ["free", "pro", "team", "enterprise"]
COUNTRIES = ["US", "FR", "DE", "GB", "JP", "BR"]
EVENTS = ["app_opened", "item_viewed", "cart_updated", "search", "share"]
PRODUCTS = [("sku-shirt", 19.99), ("sku-mug", 9.5), ("sku-cap", 14.0), ("sku-poster", 25.0)]
CURRENCIES = ["USD", "EUR", "GBP"]


def _at(day: datetime, rng: random.Random) -> str:
    moment = day + timedelta(seconds=rng.randrange(86_400))
    return moment.isoformat()


def seed(path: str | Path, *, customers: int = 300) -> Path:
    """Create the sample warehouse at ``path`` (replacing any previous one) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    rng = random.Random(42)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    ids = [f"customer-{n:04d}" for n in range(customers)]
    db.executemany(
        "insert into customers values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                external_id,
                f"{external_id}@example.com",
                rng.choice(FIRST),
                rng.choice(LAST),
                rng.choice(PLANS),
                round(rng.uniform(0, 5000), 2),
                rng.choice(COUNTRIES),
                f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                json.dumps(rng.sample(["beta", "vip", "newsletter", "churn-risk"], k=rng.randint(0, 2))),
                json.dumps({"city": rng.choice(["Lyon", "Austin", "Osaka"]), "zip": f"{rng.randint(10000, 99999)}"}),
                _at(rng.choice(DAYS), rng),
            )
            for external_id in ids
        ],
    )
    db.executemany(
        "insert into app_events values (?, ?, ?, ?, ?)",
        [
            (
                rng.choice(ids),
                rng.choice(EVENTS),
                _at(rng.choice(DAYS), rng),
                json.dumps({"screen": rng.randint(1, 9)}),
                None,
            )
            for _ in range(customers * 5)
        ],
    )
    orders = [
        (rng.choice(ids), sku, rng.choice(CURRENCIES), price, rng.randint(1, 3), _at(rng.choice(DAYS), rng))
        for sku, price in (rng.choice(PRODUCTS) for _ in range(customers))
    ]
    orders += [(ids[n], f"{INVALID_PRODUCT_PREFIX}{n}", "ZZZ", 1.0, 1, _at(DAYS[n], rng)) for n in range(len(DAYS))]
    db.executemany("insert into orders values (?, ?, ?, ?, ?, ?)", orders)
    aliases = [(f"lead-{n:03d}", "crm_id", None, _at(DAYS[n % 2], rng)) for n in range(60)]
    db.executemany("insert into crm_aliases values (?, ?, ?, ?)", aliases)
    # Half the leads sign up on the last day: their alias-only profiles merge into identified ones.
    db.executemany(
        "insert into identifications values (?, ?, ?, ?)",
        [(f"signup-{n:03d}", f"lead-{n:03d}", "crm_id", _at(DAYS[2], rng)) for n in range(0, 60, 2)],
    )
    db.executemany(
        "insert into deletions values (?, ?)",
        [(ids[n], (DAYS[2] + timedelta(hours=23, minutes=n // 30)).isoformat()) for n in range(0, customers, 30)],
    )
    db.commit()
    db.close()
    return path


def change_plans(path: str | Path, *, every: int) -> int:
    """Move one customer in ``every`` to another plan (what a day of real changes looks like); returns how many."""
    db = sqlite3.connect(path)
    try:
        changed = db.execute(
            "update customers set plan = case plan when 'enterprise' then 'team' else 'enterprise' end "
            "where rowid % ? = 0",
            (every,),
        ).rowcount
        db.commit()
    finally:
        db.close()
    return changed
