"""What Braze bills: data points an object consumes when it is accepted.

Braze counts every attribute written, changed or not; each custom event and each purchase is a data
point; identifiers, processing flags and subscription-state changes are free
(https://www.braze.com/docs/user_guide/data_and_analytics/data_points/).
Alias, identify and delete calls write no attributes and cost none. Knowing the cost before sending
lets ``dry_run`` report what a run would spend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Keys of an attributes object that identify the user or steer processing: not billed.
FREE_ATTRIBUTE_KEYS = frozenset(
    {
        "external_id",
        "user_alias",
        "braze_id",
        "_update_existing_only",
        "_merge_objects",
        "push_token_import",
        # Subscription-state changes are not data points.
        "subscription_groups",
        "email_subscribe",
        "push_subscribe",
    }
)
_PRIMARY_IDENTIFIERS = frozenset({"external_id", "user_alias", "braze_id"})


def data_points(key: str, value: Any) -> int:
    """Data points one object costs when Braze accepts it.

    :param key: the body array the object is sent in (``attributes``, ``events``, ...).
    :param value: the object.
    """
    if key == "attributes":
        # Set operations on the keys, counted in C: an incremental run asks this for every row.
        if type(value) is not dict and not isinstance(value, Mapping):
            return 0
        keys = value.keys()
        points = len(keys - FREE_ATTRIBUTE_KEYS)
        if keys.isdisjoint(_PRIMARY_IDENTIFIERS) and ("email" in value or "phone" in value):
            points -= 1  # the email (or else the phone) identifies the user: not a written attribute
        return points
    if key in ("events", "purchases"):
        return 1
    return 0
