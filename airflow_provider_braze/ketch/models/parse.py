"""Turn a webhook body into the right model, chosen by ``apiVersion`` + ``kind``.

Errors name the field at fault (``request.topics.newsletter.email.status``) and Pydantic's reason, never
the value sent: bodies carry personal data, and error text ends up in logs and HTTP answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from pydantic import ValidationError

from airflow_provider_braze.ketch.models.common import Error, KetchModel
from airflow_provider_braze.ketch.models.consent import ConsentRequest
from airflow_provider_braze.ketch.models.dsr import (
    RIGHTS_KINDS,
    AccessRequest,
    CorrectionRequest,
    DeleteRequest,
    DSRResponse,
    DSRStatusEvent,
    RestrictProcessingRequest,
)
from airflow_provider_braze.ketch.models.subscription import SubscriptionControlRequest, SubscriptionTopicRequest

#: What Ketch POSTs to a forwarder endpoint.
KetchRequest = (
    SubscriptionTopicRequest
    | SubscriptionControlRequest
    | ConsentRequest
    | DeleteRequest
    | AccessRequest
    | CorrectionRequest
    | RestrictProcessingRequest
)

#: Any message of the protocol: what Ketch POSTs, a forwarder's answers and status events, ``Error``.
KetchMessage = KetchRequest | DSRResponse | DSRStatusEvent | Error

REQUEST_MODELS: dict[tuple[str, str], type[KetchModel]] = {
    ("subscription/v1", "SubscriptionTopicRequest"): SubscriptionTopicRequest,
    ("subscription/v1", "SubscriptionControlRequest"): SubscriptionControlRequest,
    ("consent/v1", "ConsentRequest"): ConsentRequest,
    ("dsr/v1", "DeleteRequest"): DeleteRequest,
    ("dsr/v1", "AccessRequest"): AccessRequest,
    ("dsr/v1", "CorrectionRequest"): CorrectionRequest,
    ("dsr/v1", "RestrictProcessingRequest"): RestrictProcessingRequest,
}

#: Every message of the protocol, including those a forwarder sends (answers, status events, errors).
MESSAGE_MODELS: dict[tuple[str, str], type[KetchModel]] = {
    **REQUEST_MODELS,
    **{("dsr/v1", m.__name__): m for kind in RIGHTS_KINDS.values() for m in (kind.response, kind.status_event)},
}

_API_VERSIONS = sorted({version for version, _ in MESSAGE_MODELS})
_MAX_LISTED_ERRORS = 3


class KetchValidationError(ValueError):
    """A body is not a valid forwarder message.

    :param field: dotted path of the first field at fault (``None`` when the body as a whole is wrong).
    :param reason: what is wrong with it.
    :param problems: every ``(field, reason)`` found, first one first.
    """

    def __init__(self, field: str | None, reason: str, problems: list[tuple[str | None, str]] | None = None):
        self.field = field
        self.reason = reason
        self.problems = problems or [(field, reason)]
        parts = [f"{f}: {r}" if f else r for f, r in self.problems[:_MAX_LISTED_ERRORS]]
        more = len(self.problems) - _MAX_LISTED_ERRORS
        super().__init__("; ".join(parts) + (f"; and {more} more" if more > 0 else ""))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_body(body: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    """Parse JSON text (UTF-8/16/32 bytes or str) into a dict, or pass a mapping through."""
    if isinstance(body, Mapping):
        return dict(body)
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise KetchValidationError(None, "body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        # json's messages give a position, never the text, so they are safe to repeat.
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 JSON text"
        raise KetchValidationError(None, f"body is not valid JSON ({reason})") from None
    if not isinstance(data, dict):
        raise KetchValidationError(None, "body must be a JSON object")
    return data


def _dotted(loc: tuple[Any, ...]) -> str | None:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or None


def _reason(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _model_for(data: Mapping[str, Any], models: Mapping[tuple[str, str], type[KetchModel]]) -> type[KetchModel]:
    version, kind = data.get("apiVersion"), data.get("kind")
    if not isinstance(version, str) or not version:
        raise KetchValidationError("apiVersion", "required, one of " + ", ".join(_API_VERSIONS))
    if version not in _API_VERSIONS:
        raise KetchValidationError("apiVersion", "unknown, expected one of " + ", ".join(_API_VERSIONS))
    if not isinstance(kind, str) or not kind:
        raise KetchValidationError("kind", "required")
    model = models.get((version, kind))
    if model is None:
        kinds = sorted(k for v, k in models if v == version)
        raise KetchValidationError("kind", f"not a {version} kind accepted here, expected one of " + ", ".join(kinds))
    return model


def _validate(data: dict[str, Any], models: Mapping[tuple[str, str], type[KetchModel]]) -> KetchModel:
    model = _model_for(data, models)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [(_dotted(tuple(e["loc"])), _reason(e)) for e in exc.errors(include_input=False, include_url=False)]
        raise KetchValidationError(problems[0][0], problems[0][1], problems) from None


def parse_request(body: bytes | str | Mapping[str, Any]) -> KetchRequest:
    """Parse what Ketch POSTs to a forwarder endpoint into its model.

    :param body: the raw body, or already decoded JSON.
    :raises KetchValidationError: the body is not JSON, or not a valid request of a known kind.
    """
    # REQUEST_MODELS holds only the members of KetchRequest, which a dict of types cannot say.
    return cast(KetchRequest, _validate(decode_body(body), REQUEST_MODELS))


def parse_message(body: bytes | str | Mapping[str, Any]) -> KetchMessage:
    """Parse any forwarder message, including answers, status events and ``Error`` (used by emulators).

    :raises KetchValidationError: as :func:`parse_request`.
    """
    data = decode_body(body)
    if data.get("kind") == "Error":
        try:
            return Error.model_validate(data)
        except ValidationError as exc:
            problems = [(_dotted(tuple(e["loc"])), _reason(e)) for e in exc.errors(include_input=False)]
            raise KetchValidationError(problems[0][0], problems[0][1], problems) from None
    # MESSAGE_MODELS holds only the members of KetchMessage, which a dict of types cannot say.
    return cast(KetchMessage, _validate(data, MESSAGE_MODELS))
