"""Pydantic models of Ketch's webhook ("forwarder") protocol, and :func:`parse_request` to pick one.

Every message is an envelope ``{apiVersion, kind, metadata: {uid, tenant}, ...}``:

=================  ==============================================  ===================
``apiVersion``     ``kind``                                        answer
=================  ==============================================  ===================
subscription/v1    SubscriptionTopicRequest, SubscriptionControl-  202 (or 204)
                   Request
consent/v1         ConsentRequest                                  204
dsr/v1             DeleteRequest, AccessRequest, Correction-     200 + the kind's
                   Request, RestrictProcessingRequest              response (Delete-
                                                                   Response...)
=================  ==============================================  ===================

Later, status events (``DeleteStatusEvent``...) go to the request's callbacks.

.. seealso:: https://github.com/ketch-com/ketch-forwarder (the protocol's specification and its history)
"""

from airflow_provider_braze.ketch.models.common import (
    CONSENT_API_VERSION,
    DSR_API_VERSION,
    SUBSCRIPTION_API_VERSION,
    Error,
    ErrorBody,
    Identity,
    KetchModel,
    Metadata,
)
from airflow_provider_braze.ketch.models.consent import ConsentRequest, ConsentRequestBody
from airflow_provider_braze.ketch.models.dsr import (
    MAX_INLINE_RESULT_BYTES,
    MAX_JSON_RESULTS_BYTES,
    RIGHTS_KINDS,
    AccessRequest,
    AccessResponse,
    AccessResult,
    AccessStatusBody,
    AccessStatusEvent,
    Callback,
    CorrectionRequest,
    CorrectionResponse,
    CorrectionStatusEvent,
    DeleteRequest,
    DeleteResponse,
    DeleteStatusEvent,
    DSRRequestBody,
    DSRStatusBody,
    RestrictProcessingRequest,
    RestrictProcessingResponse,
    RestrictProcessingStatusEvent,
    RightsKind,
    Subject,
)
from airflow_provider_braze.ketch.models.parse import (
    MESSAGE_MODELS,
    REQUEST_MODELS,
    KetchRequest,
    KetchValidationError,
    decode_body,
    parse_message,
    parse_request,
)
from airflow_provider_braze.ketch.models.subscription import (
    ALL_CHANNELS,
    ControlStatus,
    SubscriptionControlRequest,
    SubscriptionControlRequestBody,
    SubscriptionTopicRequest,
    SubscriptionTopicRequestBody,
    TopicStatus,
)

__all__ = [
    "ALL_CHANNELS",
    "CONSENT_API_VERSION",
    "DSR_API_VERSION",
    "MAX_INLINE_RESULT_BYTES",
    "MAX_JSON_RESULTS_BYTES",
    "MESSAGE_MODELS",
    "REQUEST_MODELS",
    "RIGHTS_KINDS",
    "SUBSCRIPTION_API_VERSION",
    "AccessRequest",
    "AccessResponse",
    "AccessResult",
    "AccessStatusBody",
    "AccessStatusEvent",
    "Callback",
    "ConsentRequest",
    "ConsentRequestBody",
    "ControlStatus",
    "CorrectionRequest",
    "CorrectionResponse",
    "CorrectionStatusEvent",
    "DSRRequestBody",
    "DSRStatusBody",
    "DeleteRequest",
    "DeleteResponse",
    "DeleteStatusEvent",
    "Error",
    "ErrorBody",
    "Identity",
    "KetchModel",
    "KetchRequest",
    "KetchValidationError",
    "Metadata",
    "RestrictProcessingRequest",
    "RestrictProcessingResponse",
    "RestrictProcessingStatusEvent",
    "RightsKind",
    "Subject",
    "SubscriptionControlRequest",
    "SubscriptionControlRequestBody",
    "SubscriptionTopicRequest",
    "SubscriptionTopicRequestBody",
    "TopicStatus",
    "decode_body",
    "parse_message",
    "parse_request",
]
