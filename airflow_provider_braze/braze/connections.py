"""A requests adapter whose open connections can be shut from another thread.

A request in flight blocks its thread in a socket read until Braze answers or the read timeout
(60 s by default) passes; no flag can wake it. When an export is cancelled the sender gives such
requests a short grace, then shuts their sockets (:meth:`AbortableAdapter.abort`): the blocked read
returns at once and the request fails as a lost answer (``BrazeResponseLostError``), which the
sender reports as it reports any lost answer (attributes ``failed``, events ``unknown``).

urllib3 keeps only idle connections in its pools, so connections are tracked from the moment a
pool makes them, through :meth:`urllib3.PoolManager._new_pool`, the hook urllib3 documents for
customising pools. Requests through a proxy use urllib3's ``ProxyManager`` and are not tracked:
they end at their read timeout.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import weakref
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class _Connections:
    """The connections one adapter's pools made (weakly held: closed ones drop out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._all: weakref.WeakSet[Any] = weakref.WeakSet()

    def add(self, connection: Any) -> None:
        with self._lock:
            self._all.add(connection)

    def shut(self) -> int:
        """Shut every open socket for reading and writing; returns how many were open."""
        with self._lock:
            connections = list(self._all)
        shut = 0
        for connection in connections:
            sock = getattr(connection, "sock", None)
            if sock is None:
                continue
            # Already closed by its own thread: nothing to shut.
            with contextlib.suppress(OSError):
                # The plain socket's shutdown, even under TLS: SSLSocket.shutdown would also drop
                # its SSL object while another thread may be reading through it.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
                shut += 1
        return shut


class _Tracked:
    """A connection pool that hands every connection it makes to its :class:`_Connections`."""

    connections: _Connections | None = None

    def _new_conn(self) -> Any:
        conn = super()._new_conn()  # type: ignore[misc]  # the urllib3 pool this is mixed into
        if self.connections is not None:
            self.connections.add(conn)
        return conn


class _HTTPPool(_Tracked, HTTPConnectionPool):
    """An ``http://`` pool whose connections can be shut from another thread."""


class _HTTPSPool(_Tracked, HTTPSConnectionPool):
    """An ``https://`` pool whose connections can be shut from another thread."""


class _TrackingPoolManager(PoolManager):
    def __init__(self, connections: _Connections, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._connections = connections
        self.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        if isinstance(pool, (_HTTPPool, _HTTPSPool)):
            pool.connections = self._connections
        return pool


class AbortableAdapter(HTTPAdapter):
    """An :class:`~requests.adapters.HTTPAdapter` that can shut all its connections at once."""

    def __init__(self, **kwargs: Any) -> None:
        self._connections = _Connections()  # before super(): it builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        # requests' own body, with the tracking pool manager (requests documents this override).
        self._pool_connections, self._pool_maxsize, self._pool_block = connections, maxsize, block
        if not hasattr(self, "_connections"):  # an adapter unpickled by requests' __setstate__
            self._connections = _Connections()
        self.poolmanager = _TrackingPoolManager(
            self._connections, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def abort(self) -> int:
        """Shut the sockets of every connection, busy or idle; returns how many were open.

        A thread reading an answer gets end-of-file at once. Idle connections are dropped by urllib3
        when next taken (it checks them), so the adapter stays usable.
        """
        return self._connections.shut()
