"""The Ketch webhook receiver: a FastAPI app that checks, validates and durably stores forwarder requests.

One POST route (``{prefix}/webhook``) takes every kind Ketch sends. In order:

1. ``Authorization: Bearer <token>`` (or the bare token) is compared in constant time; otherwise 401.
   Nothing stored.
2. The body is capped: a ``Content-Length`` above ``max_body_bytes``, or more bytes than that actually
   read, answers 413. Nothing stored.
3. The body must be JSON and a valid message of a known ``apiVersion`` + ``kind``; otherwise 400 with
   the field at fault (never the value: bodies carry personal data). Nothing stored.
4. The normalised event is committed to the store before answering. A store failure answers 503 so
   that Ketch retries.
5. Answer: 202 for subscription topic and control requests, 204 for consent, 200 with the kind's
   response (``DeleteResponse``, ``AccessResponse``, ``CorrectionResponse``,
   ``RestrictProcessingResponse``; status ``pending``) for each of the four rights requests. A repeated
   ``metadata.uid`` gets the same answer and is not stored again (a rights request answers with its
   current status). Every kind the protocol defines is accepted, in every shape Ketch has published
   (see :mod:`airflow_provider_braze.ketch.models`); no kind is answered with a 5xx, which would have
   Ketch deliver it again and again.

Errors are Ketch ``Error`` envelopes. ``GET {prefix}/health`` answers 200 when the store is reachable.
The token, the body and the headers are never logged.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from airflow_provider_braze.ketch.events import KetchEvent, normalise
from airflow_provider_braze.ketch.models import (
    DSR_API_VERSION,
    RIGHTS_KINDS,
    ConsentRequest,
    Error,
    ErrorBody,
    KetchRequest,
    KetchValidationError,
    Metadata,
    decode_body,
    parse_request,
)

if TYPE_CHECKING:
    from airflow_provider_braze.state.ketch_rights import RightsRequest

log = logging.getLogger(__name__)

#: Default cap on a webhook body. Subscription events are a few KB; rights requests with form data
#: stay well below this.
DEFAULT_MAX_BODY_BYTES = 1_048_576
DEFAULT_PREFIX = "/ketch"

_KNOWN_VERSIONS = ("subscription/v1", "consent/v1", "dsr/v1")


class RightsRequestReader(Protocol):
    """What the receiver reads of rights requests (their stored status)."""

    def get_rights_request(self, request_id: str) -> RightsRequest | None:
        """The stored state of a rights request."""


class ReceiverStore(Protocol):
    """What the receiver needs of its store; :class:`~airflow_provider_braze.state.KetchEventStore` has it."""

    def record_event(self, event: KetchEvent) -> bool:
        """Store ``event``; ``False`` when its uid was stored before."""

    def get_event(self, uid: str) -> KetchEvent | None:
        """The stored event with this ``metadata.uid``."""

    @property
    def rights(self) -> RightsRequestReader:
        """Where rights requests are kept."""

    def ping(self) -> None:
        """Raise if the store cannot be reached."""


class BodyTooLarge(Exception):
    """The body is larger than the receiver accepts."""


def _error(code: int, status: str, message: str, body: Any = None, headers: dict[str, str] | None = None) -> Response:
    envelope = Error(error=ErrorBody(code=code, status=status, message=message))
    if isinstance(body, dict):
        version = body.get("apiVersion")
        envelope.api_version = version if version in _KNOWN_VERSIONS else None
        meta = body.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("uid"), str):
            # Echo the request's metadata only when it is well formed.
            with contextlib.suppress(ValueError):
                envelope.metadata = Metadata.model_validate(meta)
    return JSONResponse(envelope.to_dict(), status_code=code, headers=headers)


def _header_bytes(request: Request, name: bytes) -> bytes | None:
    for key, value in request.scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


async def read_capped_body(request: Request, max_bytes: int) -> bytes:
    """Read the whole body, refusing more than ``max_bytes`` whatever ``Content-Length`` claims.

    :raises BodyTooLarge: the declared or actual size is above the cap.
    :raises ValueError: ``Content-Length`` is not a number.
    """
    declared = _header_bytes(request, b"content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ValueError("Content-Length is not a number")
        if int(declared) > max_bytes:
            raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class _BearerCheck:
    """Constant-time check of the ``Authorization`` header against one or more accepted tokens.

    Taken as a Ketch admin may have typed it, on either side: ``Bearer <token>`` (any case), the bare
    token, or ``Bearer Bearer <token>`` (the word pasted into Ketch's token field as well), and a
    configured token with ``Bearer `` in front of it. Any other scheme (``Basic ...``) is refused.
    """

    def __init__(self, tokens: Sequence[str], header: str) -> None:
        self._tokens = [_without_scheme(t.strip().encode("utf-8")) for t in tokens]
        self._header = header.lower().encode("latin-1")

    def __call__(self, request: Request) -> bool:
        credentials = _without_scheme((_header_bytes(request, self._header) or b"").strip())
        ok = False
        for token in self._tokens:  # compare with every token so timing does not tell which matched
            ok |= hmac.compare_digest(credentials, token)
        return ok and bool(credentials)


def _without_scheme(value: bytes) -> bytes:
    """A token without the ``Bearer `` words in front of it (any case, any number)."""
    while value[:7].lower() == b"bearer ":
        value = value[7:].lstrip()
    return value


def _rights_answer(message: KetchRequest, store: ReceiverStore) -> Response:
    """The 200 answer to a rights request: its stored status (``pending`` when just received)."""
    uid = message.metadata.uid
    stored = store.rights.get_rights_request(uid)
    status, reason = (stored.status, stored.reason) if stored is not None else ("pending", "requested")
    kind = RIGHTS_KINDS[message.kind]
    body_cls, response_cls = kind.body, kind.response
    expected = stored.expected_completion_at if stored is not None else None
    status_body = body_cls(
        status=status,
        reason=reason,
        request_id=uid,
        expected_completion_timestamp=int(expected) if expected else None,
    )
    answer = response_cls(metadata=message.metadata, response=status_body)
    return JSONResponse(answer.to_dict(), status_code=200)


def _success(message: KetchRequest, store: ReceiverStore) -> Response:
    if message.api_version == DSR_API_VERSION:
        return _rights_answer(message, store)
    if isinstance(message, ConsentRequest):
        return Response(status_code=204)
    return Response(status_code=202)


def create_receiver_app(
    store: ReceiverStore,
    bearer_token: str | Sequence[str],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    *,
    prefix: str = DEFAULT_PREFIX,
    auth_header: str = "Authorization",
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """Build the receiver app.

    :param store: where events go: a :class:`~airflow_provider_braze.state.KetchEventStore` or any
        object with ``record_event``, ``get_event``, ``rights.get_rights_request`` and ``ping``.
    :param bearer_token: the token configured in Ketch's webhook settings, or several (key rotation).
    :param max_body_bytes: largest body accepted.
    :param prefix: path prefix of the routes (``/ketch`` gives ``/ketch/webhook`` and ``/ketch/health``).
    :param auth_header: the header carrying ``Bearer <token>``.
    :param clock: returns unix seconds (``received_at``); replaced in tests.
    """
    tokens = [bearer_token] if isinstance(bearer_token, str) else list(bearer_token)
    if not tokens or not all(isinstance(t, str) and t.strip() for t in tokens):
        raise ValueError("the Ketch receiver needs a non-empty bearer token")
    if max_body_bytes <= 0:
        raise ValueError("max_body_bytes must be positive")
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    authorised = _BearerCheck(tokens, auth_header)

    app = FastAPI(title="Ketch webhook receiver", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store

    @app.get(f"{prefix}/health")
    async def health() -> Response:
        try:
            await run_in_threadpool(store.ping)
        except Exception as exc:  # the message may name the database host: log the type only
            log.warning("Ketch receiver health check: the event store is unreachable (%s)", type(exc).__name__)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.post(f"{prefix}/webhook")
    async def webhook(request: Request) -> Response:
        return await _receive(request, store, authorised, max_body_bytes, clock)

    return app


async def _receive(
    request: Request,
    store: ReceiverStore,
    authorised: _BearerCheck,
    max_body_bytes: int,
    clock: Callable[[], float],
) -> Response:
    """Check, validate and store one webhook delivery; the answer Ketch gets."""
    if not authorised(request):
        log.warning("Ketch webhook refused: missing or wrong bearer token")
        return _error(401, "forbidden", "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
    try:
        raw = await read_capped_body(request, max_body_bytes)
    except BodyTooLarge:
        log.warning("Ketch webhook refused: body larger than %d bytes", max_body_bytes)
        return _error(413, "invalid", f"body larger than {max_body_bytes} bytes")
    except ValueError as exc:
        return _error(400, "invalid", str(exc))

    received_at = clock()
    data: Any = None
    try:
        data = decode_body(raw)
        message = parse_request(data)
    except KetchValidationError as exc:
        log.warning("Ketch webhook refused: %s", exc)
        return _error(400, "invalid", str(exc), data)

    event = normalise(message, payload=raw, received_at=received_at)
    try:
        stored = await run_in_threadpool(store.record_event, event)
        if not stored:
            previous = await run_in_threadpool(store.get_event, event.uid)
            if previous is not None and previous.kind != event.kind:
                log.warning("Ketch webhook refused: uid %s was already used by a %s", event.uid, previous.kind)
                return _error(409, "conflict", "metadata.uid was already used by another kind of request", data)
        answer = await run_in_threadpool(_success, message, store)
    except Exception:
        # The state engine hides SQL parameters, so the traceback carries no identities or headers.
        log.exception("Ketch webhook %s %s could not be stored", event.kind, event.uid)
        return _error(503, "unavailable", "the event could not be stored; retry later", data)
    log.info("Ketch %s %s %s", event.kind, event.uid, "stored" if stored else "already stored (repeated uid)")
    return answer
