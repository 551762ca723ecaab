"""Which function answers which catalogue endpoint."""

from __future__ import annotations

from collections.abc import Callable

from airflow_provider_braze.sandbox.braze import cdi_api, email_api, identify, subscriptions, track, users
from airflow_provider_braze.sandbox.braze.context import Call
from airflow_provider_braze.sandbox.braze.messages import Response

Handler = Callable[[Call], Response]

HANDLERS: dict[str, Handler] = {
    "users/track": track.handle_track,
    "users/track/bulk": track.handle_track,
    "users/track/sync": track.handle_track,
    "users/alias/new": users.handle_alias_new,
    "users/alias/update": users.handle_alias_update,
    "users/identify": identify.handle_identify,
    "users/delete": users.handle_delete,
    "users/export/ids": users.handle_export_ids,
    "subscription/status/set": subscriptions.handle_status_set_v1,
    "v2/subscription/status/set": subscriptions.handle_status_set_v2,
    "subscription/status/get": subscriptions.handle_status_get,
    "subscription/user/status": subscriptions.handle_user_status,
    "email/status": email_api.handle_status,
    "email/blocklist": email_api.handle_blocklist,
    "email/blacklist": email_api.handle_blocklist,
    "email/bounce/remove": email_api.handle_bounce_remove,
    "email/spam/remove": email_api.handle_spam_remove,
    "email/unsubscribes": email_api.handle_unsubscribes,
    "email/hard_bounces": email_api.handle_hard_bounces,
    "cdi/integrations": cdi_api.handle_list,
    "cdi/integrations/{integration_id}/sync": cdi_api.handle_sync,
    "cdi/integrations/{integration_id}/job_sync_status": cdi_api.handle_job_status,
}


def handler_for(name: str) -> Handler | None:
    """The handler of a catalogue endpoint; ``None`` for an endpoint the sandbox does not emulate yet."""
    return HANDLERS.get(name)
