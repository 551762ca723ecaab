"""The HTTP side: a threaded HTTP/1.1 keep-alive server on 127.0.0.1 with raw control of the socket.

The standard library server is used rather than uvicorn because fault injection needs to close a
connection without answering, and to answer long after the request was applied. Bodies are read
only when the emulator asks, so an oversized upload is refused from ``Content-Length``; what was
not read is drained before answering (up to :data:`DRAIN_LIMIT`, beyond which the connection is
closed), so the client reads a clean 413 instead of a reset connection.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from airflow_provider_braze.sandbox.braze.messages import BodyTooLarge, Request, Response, error

log = logging.getLogger(__name__)

_SECRET = re.compile(r"(api_key=|Bearer\s+)[^\s&'\"]+", re.IGNORECASE)

#: Most unread bytes drained to keep a connection alive; a larger leftover closes it instead.
DRAIN_LIMIT = 64 * 1024 * 1024
_CHUNK = 256 * 1024

#: What socketserver passes around as a request: a connection's socket (TCP) or a datagram (UDP).
_Request = socket.socket | tuple[bytes, socket.socket]


def _socket_of(request: _Request) -> socket.socket:
    # This server is TCP, whose requests are connection sockets; the tuple form is a UDP server's.
    return cast(socket.socket, request)


class SocketBody:
    """The body of the request on the wire: ``Content-Length`` or chunked."""

    def __init__(self, rfile: BufferedIOBase, headers: Message) -> None:
        self._rfile = rfile
        self._chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        raw_length = headers.get("Content-Length")
        try:
            declared = int(raw_length) if raw_length is not None else None
        except ValueError:
            declared = None
        self.length: int | None = None if self._chunked else (declared or 0)
        self._left = self.length or 0
        self._done = not self._chunked and self._left == 0

    def read(self, limit: int) -> bytes:
        if self._done:
            return b""
        if not self._chunked:
            data = self._rfile.read(self._left)
            self._left, self._done = 0, True
            return data
        parts, total = [], 0
        for chunk in self._chunks():
            total += len(chunk)
            if total > limit:
                raise BodyTooLarge()
            parts.append(chunk)
        return b"".join(parts)

    def _chunks(self) -> Iterator[bytes]:
        while True:
            size = int(self._rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self._rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._done = True
                return
            yield self._rfile.read(size)
            self._rfile.readline()

    def finish(self) -> bool:
        """Consume what is left; ``False`` when too much was left and the connection must close."""
        if self._done:
            return True
        try:
            if not self._chunked:
                if self._left > DRAIN_LIMIT:
                    return False
                while self._left > 0:
                    got = self._rfile.read(min(_CHUNK, self._left))
                    if not got:
                        return False
                    self._left -= len(got)
                self._done = True
                return True
            drained = 0
            for chunk in self._chunks():
                drained += len(chunk)
                if drained > DRAIN_LIMIT:
                    return False
            return True
        except (OSError, ValueError):
            return False


class _Handler(BaseHTTPRequestHandler):
    server: SandboxHTTPServer
    # Filled by send_header() and emptied by flush_headers(); typeshed leaves this private list out.
    _headers_buffer: list[bytes]
    protocol_version = "HTTP/1.1"
    server_version = "BrazeSandbox/1.0"
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 120

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Path only: a query string may carry a legacy ``api_key``.
        log.debug("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # Quiet by default (the request log is the record of traffic), and never a key or token.
        log.debug("%s", _SECRET.sub(r"\1<masked>", format % args))

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _serve(self) -> None:
        received_at = time.time()
        url = urlsplit(self.path)
        body = SocketBody(self.rfile, self.headers)
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            base_url=self.server.base_url,
            received_at=received_at,
        )
        try:
            response = self.server.dispatch(request)
        except Exception:
            log.exception("Braze sandbox failed on %s %s", self.command, url.path)
            response = error(500, "Internal Server Error (sandbox)")
        if response.drop:
            body.finish()
            self._drop()
            return
        if response.delay > 0:
            time.sleep(response.delay)
        if not body.finish():
            response.close = True
        self._send(response)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: Response) -> None:
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            # Headers and body leave in one write: two small writes on a keep-alive connection can
            # stall on Nagle's algorithm and delayed ACKs.
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD":
                self._headers_buffer.append(payload)
            self.flush_headers()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout fault, typically): nothing to answer to.
            self.close_connection = True


class SandboxHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` on 127.0.0.1 that knows its open connections, to close them on stop.

    :param port: TCP port; 0 picks a free one.
    :param dispatch: turns a :class:`Request` into a :class:`Response`.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, port: int, dispatch: Callable[[Request], Response]) -> None:
        self.dispatch = dispatch
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: _Request, client_address: Any) -> None:
        # Clients that hang up mid-request are normal here (timeouts, drop faults): no stderr noise.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def process_request(self, request: _Request, client_address: Any) -> None:
        connection = _socket_of(request)
        with contextlib.suppress(OSError):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._connections_lock:
            self._connections.add(connection)
        super().process_request(request, client_address)

    def shutdown_request(self, request: _Request) -> None:
        with self._connections_lock:
            self._connections.discard(_socket_of(request))
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut every open keep-alive connection (on stop)."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
