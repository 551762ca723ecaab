"""One Braze user profile as the sandbox keeps it, and the views of it the API returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_provider_braze.sandbox.braze.timeparse import iso

#: Standard profile fields kept in :attr:`User.attributes` (identifiers and subscription states live apart).
STANDARD_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "dob",
        "country",
        "language",
        "home_city",
        "gender",
        "time_zone",
        "current_location",
        "date_of_first_session",
        "date_of_last_session",
        "marked_email_as_spam_at",
        "email_open_tracking_disabled",
        "email_click_tracking_disabled",
        "facebook",
        "twitter",
        "alias_name",
        "alias_label",
    }
)


def norm_email(email: str) -> str:
    """The key an email is matched by: Braze treats addresses case-insensitively (sandbox choice)."""
    return email.strip().lower()


@dataclass(eq=False)  # a profile is itself, not its field values (hashable by identity)
class User:
    """A profile: identifiers, standard fields, custom attributes, subscription states, counters.

    :param braze_id: the sandbox-assigned id (24 hex characters, like Braze's).
    :param external_id: the caller's id, ``None`` for alias-only, email-only and phone-only profiles.
    :param aliases: ``{alias_label: alias_name}``; one name per label (https://www.braze.com/docs/api/endpoints/user_data/post_user_alias).
    :param attributes: standard fields other than identifiers and subscription states.
    :param custom_attributes: everything else written through ``attributes`` objects.
    :param subscription_groups: ``{subscription_group_id: "subscribed" | "unsubscribed"}``.
    :param attribute_objects_applied: attribute objects applied to this profile (tests check "exactly once").
    :param data_points: data points billed for writes to this profile.
    :param update_seq: increases on every write; decides "most recently updated".
    """

    braze_id: str
    external_id: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    email: str | None = None
    phone: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    custom_attributes: dict[str, Any] = field(default_factory=dict)
    email_subscribe: str | None = None
    push_subscribe: str | None = None
    subscription_groups: dict[str, str] = field(default_factory=dict)
    push_tokens: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    update_seq: int = 0
    attribute_objects_applied: int = 0
    events_applied: int = 0
    purchases_applied: int = 0
    data_points: int = 0

    @property
    def identified(self) -> bool:
        """Whether the profile has an ``external_id`` (Braze's "identified")."""
        return self.external_id is not None

    @property
    def user_aliases(self) -> list[dict[str, str]]:
        return [{"alias_name": name, "alias_label": label} for label, name in sorted(self.aliases.items())]

    def to_dict(self) -> dict[str, Any]:
        """Everything the sandbox holds about the profile, JSON-ready (for ``/_sandbox/state``)."""
        data = asdict(self)
        data["user_aliases"] = self.user_aliases
        data["created_at"] = iso(self.created_at)
        data["updated_at"] = iso(self.updated_at)
        return data

    def export(self, events: list[dict[str, Any]], purchases: list[dict[str, Any]]) -> dict[str, Any]:
        """The profile in ``/users/export/ids`` shape, before ``fields_to_export`` filtering.

        .. seealso:: https://www.braze.com/docs/api/endpoints/export/user_data/post_users_identifier
        """
        out: dict[str, Any] = {
            "created_at": iso(self.created_at),
            "external_id": self.external_id,
            "user_aliases": self.user_aliases,
            "braze_id": self.braze_id,
            "email": self.email,
            "phone": self.phone,
            "email_subscribe": self.email_subscribe,
            "push_subscribe": self.push_subscribe,
            "push_tokens": list(self.push_tokens),
            "custom_attributes": dict(self.custom_attributes),
            "custom_events": _summarise(events, "name"),
            "purchases": _summarise(purchases, "product_id"),
            "total_revenue": round(sum(p["price"] * p["quantity"] for p in purchases), 2),
            "apps": [],
            "devices": [],
            "campaigns_received": [],
            "canvases_received": [],
            "random_bucket": int(self.braze_id[-4:], 16) % 10000,
        }
        for key in ("first_name", "last_name", "dob", "country", "language", "home_city", "gender", "time_zone"):
            out[key] = self.attributes.get(key)
        if "current_location" in self.attributes:
            out["last_coordinates"] = self.attributes["current_location"]
        return {k: v for k, v in out.items() if v is not None}


def _summarise(records: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Braze's export summary: per name, first and last time and count."""
    summary: dict[str, dict[str, Any]] = {}
    for record in records:
        entry = summary.setdefault(
            record[key], {"name": record[key], "first": record["time"], "last": record["time"], "count": 0}
        )
        entry["first"] = min(entry["first"], record["time"])
        entry["last"] = max(entry["last"], record["time"])
        entry["count"] += record.get("quantity", 1)
    return list(summary.values())
