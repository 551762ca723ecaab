"""The endpoint catalogue: the one place that knows each Braze REST endpoint.

Batching, sending and the sandbox all read this table, so a limit changes in one place. Every figure
comes from Braze's documentation: permissions from https://www.braze.com/docs/api/basics, rate limits
and batch sizes from https://www.braze.com/docs/api/api_limits/, the payload size from
https://www.braze.com/docs/api/endpoints/user_data, and each endpoint's own page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

#: Braze rejects any request body above 4 MB with HTTP 413 (decimal megabytes).
MAX_BODY_BYTES = 4_000_000


@dataclass(frozen=True)
class RateLimitGroup:
    """A pool of requests per workspace that Braze counts together.

    :param name: identifier used in connection extras (``rate_limits``) and logs.
    :param limit: requests allowed per ``period``.
    :param period: window length in seconds.
    :param description: which endpoints share the pool, in Braze's words.
    """

    name: str
    limit: int
    period: float
    description: str = ""

    @property
    def per_second(self) -> float:
        """Sustained rate the pool allows."""
        return self.limit / self.period


RATE_LIMIT_GROUPS: dict[str, RateLimitGroup] = {
    g.name: g
    for g in (
        RateLimitGroup("default", 250_000, 3600.0, "every endpoint not listed elsewhere, shared"),
        RateLimitGroup("users_track", 3_000, 3.0, "/users/track"),
        RateLimitGroup("users_track_bulk", 50, 1.0, "/users/track/bulk"),
        RateLimitGroup("users_track_sync", 500, 60.0, "/users/track/sync"),
        RateLimitGroup(
            "users_identity",
            20_000,
            60.0,
            "/users/delete, /users/alias/new, /users/alias/update, /users/identify, /users/merge, shared",
        ),
        RateLimitGroup("users_export_ids", 250, 60.0, "/users/export/ids (workspaces onboarded after 2024-08-22)"),
        RateLimitGroup("subscription_status_set", 5_000, 60.0, "/subscription/status/set and its v2, shared"),
        RateLimitGroup("cdi_integrations", 50, 60.0, "GET /cdi/integrations"),
        RateLimitGroup("cdi_integration_sync", 20, 60.0, "POST /cdi/integrations/{integration_id}/sync"),
        RateLimitGroup("cdi_job_sync_status", 100, 60.0, "GET /cdi/integrations/{integration_id}/job_sync_status"),
    )
}


@dataclass(frozen=True)
class Endpoint:
    """One Braze REST endpoint and the limits that govern a request to it.

    :param name: catalogue key: the path without its leading slash (``users/track``).
    :param method: HTTP method.
    :param path: path template; ``{integration_id}`` style placeholders are filled per call.
    :param permission: the API-key permission Braze checks (HTTP 403 without it).
    :param rate_limit_group: key into :data:`RATE_LIMIT_GROUPS`.
    :param body_keys: the arrays of objects a request carries (empty for GETs and bodiless POSTs).
    :param max_items: most objects in any one of those arrays.
    :param max_total_items: most objects across all arrays of one request (``None``: no combined cap).
    :param mix_body_keys: whether one request may carry several of ``body_keys`` at once.
    :param exclusive_keys: body keys that may not appear together even where others mix
        (``email`` and ``phone`` for ``/subscription/status/set``).
    :param max_body_bytes: largest request body Braze accepts.
    :param idempotent: whether resending an already applied request leaves the same end state; decides
        whether an ambiguous failure (timeout after sending, 504) may be retried.
    :param non_idempotent_keys: body keys whose objects are counted again when resent (events,
        purchases), which makes a request carrying them non-idempotent.
    :param weight_keys: nested arrays whose lengths an object counts for toward ``max_total_items``
        (a v2 subscription entry counts one per identifier it lists); empty: each object counts one.
    :param too_many_message: Braze's fatal 400 message when an array is over ``max_items``.
    """

    name: str
    method: str
    path: str
    permission: str
    rate_limit_group: str = "default"
    body_keys: tuple[str, ...] = ()
    max_items: int | None = None
    max_total_items: int | None = None
    mix_body_keys: bool = True
    exclusive_keys: frozenset[str] = field(default_factory=frozenset)
    max_body_bytes: int = MAX_BODY_BYTES
    idempotent: bool = True
    non_idempotent_keys: frozenset[str] = field(default_factory=frozenset)
    weight_keys: tuple[str, ...] = ()
    too_many_message: str = "The max number of ids per request was exceeded"

    @property
    def batched(self) -> bool:
        """Whether requests to this endpoint carry arrays that the batcher packs."""
        return bool(self.body_keys)

    def weight(self, obj: Any) -> int:
        """How much one object counts toward ``max_total_items``."""
        if not self.weight_keys or not isinstance(obj, Mapping):
            return 1
        return sum(len(obj.get(key) or ()) for key in self.weight_keys)

    def format_path(self, **path_params: Any) -> str:
        """Fill the path template (``integration_id`` and the like)."""
        return self.path.format(**path_params) if path_params else self.path

    def is_idempotent(self, body: Mapping[str, Any] | None) -> bool:
        """Whether sending ``body`` twice leaves Braze as sending it once would.

        Events and purchases are never de-duplicated by Braze, and an ``{"inc": n}`` attribute
        increments again, so a ``/users/track`` body holding either is not safe to resend.
        """
        if not self.idempotent:
            return False
        if not body:
            return True
        if any(body.get(key) for key in self.non_idempotent_keys):
            return False
        return not any(_has_increment(obj) for obj in body.get("attributes") or ())

    def with_limits(self, *, max_items: int | None = None, max_total_items: int | None = None) -> Endpoint:
        """A copy with other item limits (MAU contracts allow 50 objects per /users/track request)."""
        from dataclasses import replace

        return replace(
            self,
            max_items=self.max_items if max_items is None else max_items,
            max_total_items=self.max_total_items if max_total_items is None else max_total_items,
        )


def _has_increment(attributes: Any) -> bool:
    if not isinstance(attributes, Mapping):
        return False
    return any(isinstance(v, Mapping) and "inc" in v for v in attributes.values())


_TRACK_KEYS = ("attributes", "events", "purchases")
_TRACK_COUNTED = frozenset({"events", "purchases"})


class _ArrayLimits(TypedDict):
    """The limits shared by the email list endpoints, typed so that ``Endpoint(**_EMAIL_LIST)`` checks."""

    body_keys: tuple[str, ...]
    max_items: int
    mix_body_keys: bool


_EMAIL_LIST = _ArrayLimits(body_keys=("email",), max_items=50, mix_body_keys=False)

CATALOGUE: dict[str, Endpoint] = {
    e.name: e
    for e in (
        # --- user data -------------------------------------------------------------------------
        Endpoint(
            "users/track",
            "POST",
            "/users/track",
            "users.track",
            "users_track",
            body_keys=_TRACK_KEYS,
            max_items=75,
            non_idempotent_keys=_TRACK_COUNTED,
            too_many_message="Max Input Length Exceeded",
        ),
        Endpoint(
            "users/track/bulk",
            "POST",
            "/users/track/bulk",
            "users.track.bulk",
            "users_track_bulk",
            body_keys=_TRACK_KEYS,
            max_items=1000,
            max_total_items=1000,
            max_body_bytes=2_000_000,
            non_idempotent_keys=_TRACK_COUNTED,
            too_many_message="Max Input Length Exceeded",
        ),
        Endpoint(
            "users/track/sync",
            "POST",
            "/users/track/sync",
            "users.track.sync",
            "users_track_sync",
            body_keys=_TRACK_KEYS,
            max_items=1,
            max_total_items=1,
            non_idempotent_keys=_TRACK_COUNTED,
            too_many_message="Max Input Length Exceeded",
        ),
        Endpoint(
            "users/alias/new",
            "POST",
            "/users/alias/new",
            "users.alias.new",
            "users_identity",
            body_keys=("user_aliases",),
            max_items=50,
            too_many_message="The max number of external_ids and aliases per request was exceeded",
        ),
        Endpoint(
            "users/alias/update",
            "POST",
            "/users/alias/update",
            "users.alias.update",
            "users_identity",
            body_keys=("alias_updates",),
            max_items=50,
            too_many_message="The max number of external_ids and aliases per request was exceeded",
        ),
        Endpoint(
            "users/identify",
            "POST",
            "/users/identify",
            "users.identify",
            "users_identity",
            body_keys=("aliases_to_identify", "emails_to_identify", "phone_numbers_to_identify"),
            max_items=50,
            mix_body_keys=False,
            too_many_message="The max number of external_ids and aliases per request was exceeded",
        ),
        Endpoint(
            "users/delete",
            "POST",
            "/users/delete",
            "users.delete",
            "users_identity",
            body_keys=("external_ids", "user_aliases", "braze_ids", "email_addresses", "phone_numbers"),
            max_items=50,
            mix_body_keys=False,
            too_many_message="The max number of external_ids and aliases per request was exceeded",
        ),
        Endpoint(
            "users/export/ids",
            "POST",
            "/users/export/ids",
            "users.export.ids",
            "users_export_ids",
            body_keys=("external_ids", "user_aliases"),
            max_items=50,
            max_total_items=50,
            too_many_message="The max number of external_ids and aliases per request was exceeded",
        ),
        # --- subscription groups ---------------------------------------------------------------
        Endpoint(
            "subscription/status/set",
            "POST",
            "/subscription/status/set",
            "subscription.status.set",
            "subscription_status_set",
            # external_id may go with email or with phone, but email and phone never together.
            body_keys=("external_id", "email", "phone"),
            max_items=50,
            exclusive_keys=frozenset({"email", "phone"}),
        ),
        Endpoint(
            "v2/subscription/status/set",
            "POST",
            "/v2/subscription/status/set",
            "subscription.status.set",
            "subscription_status_set",
            # Braze's page allows several group entries per call but "up to 50" users per call:
            # the cap is on identifiers across all entries, not on entries.
            body_keys=("subscription_groups",),
            max_total_items=50,
            weight_keys=("external_ids", "emails", "phones"),
        ),
        Endpoint("subscription/status/get", "GET", "/subscription/status/get", "subscription.status.get"),
        Endpoint("subscription/user/status", "GET", "/subscription/user/status", "subscription.groups.get"),
        # --- email lists -----------------------------------------------------------------------
        Endpoint("email/status", "POST", "/email/status", "email.status", **_EMAIL_LIST),
        Endpoint("email/blocklist", "POST", "/email/blocklist", "email.blacklist", **_EMAIL_LIST),
        Endpoint("email/blacklist", "POST", "/email/blacklist", "email.blacklist", **_EMAIL_LIST),
        Endpoint("email/bounce/remove", "POST", "/email/bounce/remove", "email.bounce.remove", **_EMAIL_LIST),
        Endpoint("email/spam/remove", "POST", "/email/spam/remove", "email.spam.remove", **_EMAIL_LIST),
        Endpoint("email/unsubscribes", "GET", "/email/unsubscribes", "email.unsubscribe"),
        Endpoint("email/hard_bounces", "GET", "/email/hard_bounces", "email.hard_bounces"),
        # --- Cloud Data Ingestion --------------------------------------------------------------
        Endpoint("cdi/integrations", "GET", "/cdi/integrations", "cdi.integration_list", "cdi_integrations"),
        Endpoint(
            "cdi/integrations/{integration_id}/sync",
            "POST",
            "/cdi/integrations/{integration_id}/sync",
            "cdi.integration_sync",
            "cdi_integration_sync",
            idempotent=False,
        ),
        Endpoint(
            "cdi/integrations/{integration_id}/job_sync_status",
            "GET",
            "/cdi/integrations/{integration_id}/job_sync_status",
            "cdi.integration_job_status",
            "cdi_job_sync_status",
        ),
    )
}


def get_endpoint(name: str | Endpoint) -> Endpoint:
    """Look an endpoint up by catalogue name (``users/track``) or path (``/users/track``).

    :param name: catalogue name, path, or an :class:`Endpoint` (returned as is).
    :raises KeyError: naming the known endpoints when ``name`` is not in the catalogue.
    """
    if isinstance(name, Endpoint):
        return name
    key = name.lstrip("/")
    try:
        return CATALOGUE[key]
    except KeyError:
        raise KeyError(f"Unknown Braze endpoint {name!r}; known endpoints: {', '.join(sorted(CATALOGUE))}") from None
