"""What passes between the HTTP server and the emulator: a request and the response to it.

The server (sockets, keep-alive, dropping connections) and the emulator (Braze's rules) meet only
here, so each can be read, and tested, without the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Protocol


class BodyTooLarge(Exception):
    """The body turned out longer than allowed while it was being read (chunked uploads)."""


class Body(Protocol):
    """A request body not read yet, so that its size can be judged from ``Content-Length`` first."""

    #: The declared length (``Content-Length``), ``None`` for chunked bodies.
    length: int | None

    def read(self, limit: int) -> bytes:
        """Read the whole body; raise :class:`BodyTooLarge` past ``limit`` bytes."""


class EmptyBody:
    length: int | None = 0

    def read(self, limit: int) -> bytes:
        return b""


@dataclass
class Request:
    """One HTTP request as the emulator sees it.

    :param method: ``GET`` / ``POST`` ...
    :param path: the path without the query string.
    :param query: query parameters, each a list of values in arrival order.
    :param headers: request headers, looked up case-insensitively.
    :param body: the unread body.
    :param base_url: ``http://127.0.0.1:PORT`` (for ``Link`` headers).
    :param received_at: epoch seconds when the request line arrived.
    """

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] | Message = field(default_factory=dict)
    body: Body = field(default_factory=EmptyBody)
    base_url: str = ""
    received_at: float = 0.0

    def header(self, name: str) -> str | None:
        getter = getattr(self.headers, "get", None)
        value = getter(name) if getter else None
        if value is None:
            lowered = name.lower()
            value = next((v for k, v in self.headers.items() if k.lower() == lowered), None)
        return value


@dataclass
class Response:
    """What to send back.

    :param status: HTTP status.
    :param body: a JSON-ready value, or ``None`` for no body.
    :param headers: extra headers (rate-limit headers, ``Link``).
    :param drop: close the connection without answering (fault injection).
    :param delay: seconds to wait before answering (faults, latency).
    :param close: close the connection after answering (an unread body was left behind).
    """

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0
    close: bool = False


def error(status: int, message: str, errors: list[Any] | None = None, /, **headers: str) -> Response:
    """Braze's error envelope: ``{"message": ..., "errors": [...]}`` (https://www.braze.com/docs/api/errors/).

    Positional-only parameters, so that no header can take the place of ``errors``.
    """
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    return Response(status, body, dict(headers))


def success(code: int = 200, errors: list[Any] | None = None, /, **fields: Any) -> Response:
    """Braze's success envelope, with non-fatal ``errors`` when there are any (https://www.braze.com/docs/api/errors/).

    Positional-only parameters, so that a body field may be called ``status``.
    """
    body: dict[str, Any] = {"message": "success", **fields}
    if errors:
        body["errors"] = errors
    return Response(code, body)
