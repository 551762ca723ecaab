"""Serve an ASGI app with uvicorn in a background thread on 127.0.0.1 (port 0: a free port).

The socket is bound before the thread starts, so :attr:`UvicornThread.url` is known at once and the
port cannot be taken in between; :meth:`UvicornThread.start` returns once uvicorn accepts requests.
Used by the Ketch sandbox, and by tests to serve the provider's receiver.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

LOOPBACK = "127.0.0.1"


class UvicornThread:
    """One uvicorn server in a daemon thread.

    :param app: the ASGI app.
    :param port: TCP port on 127.0.0.1; 0 picks a free one.
    :param name: thread name, for debugging.
    """

    def __init__(self, app: Any, port: int = 0, *, name: str = "uvicorn") -> None:
        self.app = app
        self.port = port
        self.name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._server is None:
            raise RuntimeError(f"{self.name} is not running; call start()")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self, timeout: float = 10.0) -> UvicornThread:
        """Bind, start serving, and wait until uvicorn is up."""
        if self._server is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, self.port))
        self.port = sock.getsockname()[1]
        # log_config=None leaves logging to the host process; no access log (paths only, but noisy).
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            proxy_headers=False,
            server_header=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"{self.name}-{self.port}", daemon=True
        )
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start on {LOOPBACK}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and wait for the thread."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is None:
            return
        server.should_exit = True
        if thread is not None:
            thread.join(timeout)
        if sock is not None:
            sock.close()

    def __enter__(self) -> UvicornThread:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
