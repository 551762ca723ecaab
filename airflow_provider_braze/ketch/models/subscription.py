"""``subscription/v1``: a user changed a subscription topic or pulled a global control.

Ketch's forwarder specification (https://github.com/ketch-com/ketch-forwarder, ``api/subscription/v1``
and ``openapi/components/schemas``) has published four topic shapes and two control shapes; every one
is accepted and comes out as the current one, ``{topic: {contact_method: {"status": ...}}}``:

=====================================================  ==========================================
shape                                                  published in
=====================================================  ==========================================
``{"newsletter": {"email": {"status": "granted"}}}``   the Markdown specification since 2023-04-13
``{"newsletter": {"email": "granted"}}``               the OpenAPI schema since 2023-04-13
``{"newsletter": {"contactMethods": ["email"],         the Markdown specification 2023-03-30 to
"status": "allowed"}}`` (``contactMethods`` optional)  2023-04-13 (``allowed`` means ``granted``)
``{"newsletter": "denied"}``                           the first version, 2023-03-16
=====================================================  ==========================================

A topic decision that names no contact method (the last shape, or the third without
``contactMethods``) applies to every contact method of the topic: it is kept under the channel
:data:`ALL_CHANNELS` and the sync expands it to every channel mapped for the topic. Controls are
``{control: {"status": ...}}`` in the Markdown specification and ``{control: "denied"}`` in the
first version and the OpenAPI schema; both are accepted.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from airflow_provider_braze.ketch.models.common import (
    SUBSCRIPTION_API_VERSION,
    Envelope,
    Identity,
    KetchModel,
    PreferenceStatus,
    require_usable_identity,
)

#: The channel of a topic decision that named no contact method: it applies to all of them.
ALL_CHANNELS = "*"


def _status_object(value: Any) -> Any:
    """``"denied"`` (a bare status, as the first version and the OpenAPI schema send it) -> ``{"status": "denied"}``."""
    return {"status": value} if isinstance(value, (str, bool)) else value


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
    if isinstance(value, (str, bool)):
        return {ALL_CHANNELS: {"status": value}}
    methods = value.get("contactMethods", value.get("contact_methods"))
    if methods is None:
        return {ALL_CHANNELS: {"status": value["status"]}}
    if not isinstance(methods, list) or not all(isinstance(m, str) and m for m in methods):
        raise ValueError(f"topic {topic!r}: contactMethods must be a list of contact method codes")
    if "status" not in value:
        raise ValueError(f"topic {topic!r}: status is required")
    return {method: {"status": value["status"]} for method in methods}


def _is_legacy_topic(value: Any) -> bool:
    # In the current shapes every value is an object keyed by contact method, so a bare status, a
    # list of contactMethods or a status string beside them can only be an older shape.
    return isinstance(value, (str, bool)) or (
        isinstance(value, dict)
        and (
            isinstance(value.get("contactMethods", value.get("contact_methods")), list)
            or isinstance(value.get("status"), str)
        )
    )


def _current_topic(topic: str, value: Any) -> Any:
    """One topic value, whatever its published shape, in the current shape."""
    if _is_legacy_topic(value):
        return _upgrade_legacy_topic(topic, value)
    if isinstance(value, dict):
        return {method: _status_object(decision) for method, decision in value.items()}
    return value


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
        return {topic: _current_topic(topic, channels) for topic, channels in value.items()}


class SubscriptionControlRequestBody(_SubscriptionRequestBody):
    """``request`` of a :class:`SubscriptionControlRequest`: ``controls`` is ``{control_code: ControlStatus}``."""

    controls: dict[str, ControlStatus] = Field(min_length=1)

    @field_validator("controls", mode="before")
    @classmethod
    def _accept_bare_status(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {code: _status_object(decision) for code, decision in value.items()}


class SubscriptionTopicRequest(Envelope):
    """A user granted or denied subscription topics on some contact methods. Answer 202 or 204."""

    api_version: Literal["subscription/v1"] = SUBSCRIPTION_API_VERSION
    kind: Literal["SubscriptionTopicRequest"] = "SubscriptionTopicRequest"
    request: SubscriptionTopicRequestBody


class SubscriptionControlRequest(Envelope):
    """A user triggered a global control such as "unsubscribe from all". Answer 202 or 204."""

    api_version: Literal["subscription/v1"] = SUBSCRIPTION_API_VERSION
    kind: Literal["SubscriptionControlRequest"] = "SubscriptionControlRequest"
    request: SubscriptionControlRequestBody
