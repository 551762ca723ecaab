"""``subscription/v1``: a user changed a subscription topic or pulled a global control.

Two topic shapes are accepted and both come out as the current one:

- current (since 2023-04-13): ``{"newsletter": {"email": {"status": "granted"}, "sms": {"status": "denied"}}}``
- older (2023-03-16 to 2023-04-13): ``{"newsletter": {"contactMethods": ["email", "sms"], "status": "allowed"}}``,
  where ``allowed`` means ``granted``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from airflow_provider_braze.ketch.models.common import (
    SUBSCRIPTION_API_VERSION,
    Identity,
    KetchModel,
    Metadata,
    PreferenceStatus,
    require_usable_identity,
)


class TopicStatus(KetchModel):
    """The decision for one topic on one contact method (channel)."""

    status: PreferenceStatus


class ControlStatus(KetchModel):
    """The decision for one control, e.g. ``global_unsubscribe``.

    :param impact: Ketch's ``impactType`` hint, when sent (unsubscribe from all topics, or from the
        topics configured in the experience).
    """

    status: PreferenceStatus
    impact: str | None = None


def _upgrade_legacy_topic(topic: str, value: Any) -> Any:
    """Turn one older-shape topic value into the current per-contact-method shape."""
    methods = value.get("contactMethods", value.get("contact_methods"))
    if not isinstance(methods, list) or not all(isinstance(m, str) and m for m in methods):
        raise ValueError(f"topic {topic!r}: contactMethods must be a list of contact method codes")
    if "status" not in value:
        raise ValueError(f"topic {topic!r}: status is required")
    return {method: {"status": value["status"]} for method in methods}


def _is_legacy_topic(value: Any) -> bool:
    # In the current shape every value is an object keyed by contact method, so a list of
    # contactMethods or a bare status string can only be the older shape.
    return isinstance(value, dict) and (
        isinstance(value.get("contactMethods", value.get("contact_methods")), list)
        or isinstance(value.get("status"), str)
    )


def _require_channels(topics: dict[str, dict[str, TopicStatus]]) -> dict[str, dict[str, TopicStatus]]:
    empty = [code for code, channels in topics.items() if not channels]
    if empty:
        raise ValueError(f"topic {empty[0]!r} names no contact method")
    return topics


class _SubscriptionRequestBody(KetchModel):
    controller: str | None = None
    property: str | None = None
    environment: str | None = None
    identities: Annotated[list[Identity], AfterValidator(require_usable_identity)]
    submitted_timestamp: float | None = None


class SubscriptionTopicRequestBody(_SubscriptionRequestBody):
    """``request`` of a :class:`SubscriptionTopicRequest`.

    :param topics: ``{topic_code: {contact_method: TopicStatus}}`` (older shape upgraded on the way in).
    :param submitted_timestamp: when the user made the change, in unix seconds.
    """

    topics: Annotated[dict[str, dict[str, TopicStatus]], AfterValidator(_require_channels)] = Field(min_length=1)

    @field_validator("topics", mode="before")
    @classmethod
    def _accept_legacy_shape(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            topic: _upgrade_legacy_topic(topic, channels) if _is_legacy_topic(channels) else channels
            for topic, channels in value.items()
        }


class SubscriptionControlRequestBody(_SubscriptionRequestBody):
    """``request`` of a :class:`SubscriptionControlRequest`: ``controls`` is ``{control_code: ControlStatus}``."""

    controls: dict[str, ControlStatus] = Field(min_length=1)


class SubscriptionTopicRequest(KetchModel):
    """A user granted or denied subscription topics on some contact methods. Answer 202 or 204."""

    api_version: Literal["subscription/v1"] = SUBSCRIPTION_API_VERSION
    kind: Literal["SubscriptionTopicRequest"] = "SubscriptionTopicRequest"
    metadata: Metadata
    request: SubscriptionTopicRequestBody


class SubscriptionControlRequest(KetchModel):
    """A user triggered a global control such as "unsubscribe from all". Answer 202 or 204."""

    api_version: Literal["subscription/v1"] = SUBSCRIPTION_API_VERSION
    kind: Literal["SubscriptionControlRequest"] = "SubscriptionControlRequest"
    metadata: Metadata
    request: SubscriptionControlRequestBody
