"""Ketch's public Web API, the part browsers call, served under ``/web/v2`` and ``/web/v3``.

.. seealso:: https://github.com/ketch-sdk/ketch-web-api (the client Ketch's tag uses; its calls and types)

* ``POST /subscriptions/{organizationCode}/get``: 200 with the request's fields plus ``topics``
  (``{topic: {channel: {status}}}``), ``controls`` (``{control: {status, impact?}}``) and
  ``collectedAt`` once anything is known; empty ``topics``/``controls`` for an unknown subject.
* ``POST /subscriptions/{organizationCode}/update``: stores ``topics``/``controls``; 204 (Ketch's
  ``setSubscriptions`` returns nothing).
* ``POST /consent/{organizationCode}/get``: 200 with ``purposes`` (``{code: {allowed: "true"|"false",
  legalBasisCode}}``), or 204 when nothing is known (the web client then keeps its request).
* ``POST /consent/{organizationCode}/update``: stores ``purposes``; 204.

No authentication, as in Ketch. ``identities`` (``{identitySpaceCode: value}``) is required: this API
works one subject at a time. A body ``organizationCode`` that differs from the path is refused.
An update for the sandbox's own organization is also sent to the receiver as the matching webhook
(``SubscriptionTopicRequest``/``SubscriptionControlRequest``/``ConsentRequest``) when a receiver is
configured, before the answer, so a test sees it stored once the call returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool

from airflow_provider_braze.ketch.events import epoch_seconds
from airflow_provider_braze.ketch.models import ControlStatus, Identity, KetchModel, TopicStatus
from airflow_provider_braze.ketch.models.common import PreferenceStatus
from airflow_provider_braze.sandbox.ketch import webhooks

if TYPE_CHECKING:
    from airflow_provider_braze.sandbox.ketch.sandbox import KetchSandbox

#: Fields echoed back by ``get`` as sent.
_ECHOED = ("controllerCode", "propertyCode", "environmentCode", "jurisdictionCode", "regionCode")


class _WebRequest(KetchModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    organization_code: str | None = None
    controller_code: str | None = None
    property_code: str | None = None
    environment_code: str | None = None
    jurisdiction_code: str | None = None
    region_code: str | None = None
    identities: dict[str, str] = Field(min_length=1)
    collected_at: float | None = None

    @field_validator("identities")
    @classmethod
    def _values(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not v.strip() for v in value.values()):
            raise ValueError("every identity needs a non-empty value")
        return value


class SubscriptionsRequest(_WebRequest):
    """``GetSubscriptionsRequest``/``SetSubscriptionsRequest`` of ketch-types."""

    topics: dict[str, dict[str, TopicStatus]] = {}
    controls: dict[str, ControlStatus] = {}
    context: dict[str, Any] | None = None


class ConsentPurpose(KetchModel):
    """One purpose of a consent call: ``allowed`` is ``"true"``/``"false"`` (``granted``/``denied`` accepted)."""

    allowed: PreferenceStatus
    legal_basis_code: str | None = None


class ConsentWebRequest(_WebRequest):
    """``GetConsentRequest``/``SetConsentRequest`` of ketch-types (vendor fields accepted and ignored)."""

    purposes: dict[str, ConsentPurpose] = {}


def _invalid(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": 400, "status": "invalid", "message": message}}, status_code=400)


_Parsed = TypeVar("_Parsed", bound=_WebRequest)


async def _parse(request: Request, model: type[_Parsed], org: str) -> _Parsed | JSONResponse:
    try:
        data = await request.json()
    except ValueError:
        return _invalid("body is not valid JSON")
    if not isinstance(data, dict):
        return _invalid("body must be a JSON object")
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        # Field and reason only: values are personal data.
        first = exc.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        return _invalid(f"{field}: {first['msg']}" if field else first["msg"])
    if parsed.organization_code and parsed.organization_code != org:
        return _invalid("organizationCode in the body differs from the path")
    return parsed


async def _update(request: Request, model: type[_Parsed], org: str, apply: Callable[[_Parsed], None]) -> Response:
    """An update call: parse it, ``apply`` it off the event loop (it may send webhooks and wait), answer 204.

    :param model: the body's model.
    :param apply: stores what the parsed body says.
    """
    parsed = await _parse(request, model, org)
    if isinstance(parsed, Response):
        return parsed
    await run_in_threadpool(apply, parsed)
    return Response(status_code=204)


def _echo(data: _WebRequest, org: str) -> dict[str, Any]:
    wire = data.to_dict()
    return {"organizationCode": org, **{k: wire[k] for k in _ECHOED if k in wire}, "identities": data.identities}


def apply_subscriptions_update(
    sandbox: KetchSandbox,
    org: str,
    identities: dict[str, str],
    topics: Mapping[str, Mapping[str, str]],
    controls: Mapping[str, tuple[str, str | None]],
    collected_at: float | None,
) -> None:
    """A browser set subscriptions: store them, then send the webhooks Ketch would send."""
    at = epoch_seconds(collected_at) or sandbox.next_timestamp()
    if topics:
        sandbox.preferences.set_topics(org, identities, topics, at)
    if controls:
        sandbox.preferences.set_controls(org, identities, controls, at)
    if not sandbox.forwards_web_updates(org):
        return
    ids = [Identity(identity_space=space, identity_value=value) for space, value in identities.items()]
    if topics:
        legacy = sandbox.legacy_topic_shape
        body = webhooks.topic_request(sandbox.origin, ids, topics, submitted_at=at, legacy_shape=legacy)
        sandbox.send(body, apply=False)
    if controls:
        sandbox.send(webhooks.control_request(sandbox.origin, ids, controls, submitted_at=at), apply=False)


def apply_consent_update(
    sandbox: KetchSandbox,
    org: str,
    identities: dict[str, str],
    purposes: Mapping[str, tuple[str, str | None]],
    collected_at: float | None,
    jurisdiction: str | None,
) -> None:
    """A browser set consent: store it, then send the ``ConsentRequest`` Ketch would send."""
    at = epoch_seconds(collected_at) or sandbox.next_timestamp()
    if not purposes:
        return
    sandbox.preferences.set_purposes(org, identities, purposes, at)
    if not sandbox.forwards_web_updates(org):
        return
    ids = [Identity(identity_space=space, identity_value=value) for space, value in identities.items()]
    body = webhooks.consent_request(
        sandbox.origin,
        ids,
        {code: status for code, (status, _) in purposes.items()},
        collected_at=at,
        legal_basis={code: basis for code, (_, basis) in purposes.items() if basis},
        jurisdiction=jurisdiction,
    )
    sandbox.send(body, apply=False)


def web_api_router(sandbox: KetchSandbox) -> APIRouter:
    """The Web API routes over ``sandbox.preferences``."""
    router = APIRouter()
    store = sandbox.preferences

    @router.post("/subscriptions/{organizationCode}/get")
    async def get_subscriptions(organizationCode: str, request: Request) -> Response:  # noqa: N803 - Ketch's name
        parsed = await _parse(request, SubscriptionsRequest, organizationCode)
        if isinstance(parsed, Response):
            return parsed
        known = store.subscriptions(organizationCode, parsed.identities)
        return JSONResponse({**_echo(parsed, organizationCode), **known})

    @router.post("/subscriptions/{organizationCode}/update")
    async def set_subscriptions(organizationCode: str, request: Request) -> Response:  # noqa: N803
        def apply(parsed: SubscriptionsRequest) -> None:
            topics = {t: {c: d.status for c, d in chans.items()} for t, chans in parsed.topics.items() if chans}
            controls = {code: (d.status, d.impact) for code, d in parsed.controls.items()}
            apply_subscriptions_update(
                sandbox, organizationCode, parsed.identities, topics, controls, parsed.collected_at
            )

        return await _update(request, SubscriptionsRequest, organizationCode, apply)

    @router.post("/consent/{organizationCode}/get")
    async def get_consent(organizationCode: str, request: Request) -> Response:  # noqa: N803
        parsed = await _parse(request, ConsentWebRequest, organizationCode)
        if isinstance(parsed, Response):
            return parsed
        consent = store.consent(organizationCode, parsed.identities)
        if consent is None:
            return Response(status_code=204)
        return JSONResponse({**_echo(parsed, organizationCode), **consent})

    @router.post("/consent/{organizationCode}/update")
    async def set_consent(organizationCode: str, request: Request) -> Response:  # noqa: N803
        def apply(parsed: ConsentWebRequest) -> None:
            purposes = {code: (p.allowed, p.legal_basis_code) for code, p in parsed.purposes.items()}
            apply_consent_update(
                sandbox, organizationCode, parsed.identities, purposes, parsed.collected_at, parsed.jurisdiction_code
            )

        return await _update(request, ConsentWebRequest, organizationCode, apply)

    return router
