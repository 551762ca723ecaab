"""Pydantic models of Ketch's webhook ("forwarder") protocol, and :func:`parse_request` to pick one.

Every message is an envelope ``{apiVersion, kind, metadata: {uid, tenant}, ...}``:

=================  ==============================================  ===================
``apiVersion``     ``kind``                                        answer
=================  ==============================================  ===================
subscription/v1    SubscriptionTopicRequest, SubscriptionControl-  202 (or 204)
                   Request
consent/v1         ConsentRequest                                  204
dsr/v1             DeleteRequest, AccessRequest (Correction- and   200 + Delete/Access-
                   RestrictProcessingRequest are parsed only)      Response
=================  ==============================================  ===================

Later, status events (``DeleteStatusEvent``, ``AccessStatusEvent``) go to the request's callbacks.
Source: ``shared/reference/ketch_treasure_data.md`` section 1.3 (the ketch-com/ketch-forwarder spec).
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
    AccessRequest,
    AccessResponse,
    AccessResult,
    AccessStatusBody,
    AccessStatusEvent,
    Callback,
    CorrectionRequest,
    DeleteRequest,
    DeleteResponse,
    DeleteStatusEvent,
    DSRRequestBody,
    DSRStatusBody,
    RestrictProcessingRequest,
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
    ControlStatus,
    SubscriptionControlRequest,
    SubscriptionControlRequestBody,
    SubscriptionTopicRequest,
    SubscriptionTopicRequestBody,
    TopicStatus,
)

__all__ = [
    "CONSENT_API_VERSION",
    "DSR_API_VERSION",
    "MAX_INLINE_RESULT_BYTES",
    "MAX_JSON_RESULTS_BYTES",
    "MESSAGE_MODELS",
    "REQUEST_MODELS",
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
