"""``ketch-receiver``: serve the Ketch webhook receiver standalone with uvicorn.

    KETCH_WEBHOOK_TOKEN=... ketch-receiver --port 8085 --state-url sqlite:////var/lib/braze/state.db

The token is read from an environment variable (``--token-env``), never from the command line, so it
does not show in ``ps``; a state URL holding a password can be passed the same way (``--state-url-env``).
The server listens on 127.0.0.1 by default: Ketch only calls ``https`` URLs, so put a TLS-terminating
proxy in front. ``--port 0`` picks a free port; the line ``listening on http://HOST:PORT`` says which.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Sequence

DEFAULT_TOKEN_ENV = "KETCH_WEBHOOK_TOKEN"  # noqa: S105 - the name of an environment variable, not a token


def build_parser() -> argparse.ArgumentParser:
    from airflow_provider_braze.ketch.receiver import DEFAULT_MAX_BODY_BYTES, DEFAULT_PREFIX

    parser = argparse.ArgumentParser(
        prog="ketch-receiver", description="Receive Ketch webhooks and store them in the provider's state store."
    )
    parser.add_argument("--port", type=int, default=8085, help="TCP port (0: any free port). Default 8085.")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on. Default 127.0.0.1 (behind a TLS proxy)."
    )
    parser.add_argument(
        "--token-env",
        default=DEFAULT_TOKEN_ENV,
        metavar="NAME",
        help=f"environment variable holding the bearer token Ketch sends. Default {DEFAULT_TOKEN_ENV}.",
    )
    state = parser.add_mutually_exclusive_group(required=True)
    state.add_argument("--state-url", metavar="URL", help="SQLAlchemy URL of the state store.")
    state.add_argument("--state-url-env", metavar="NAME", help="environment variable holding that URL.")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"route prefix. Default {DEFAULT_PREFIX}.")
    parser.add_argument(
        "--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="largest webhook body accepted."
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the receiver until interrupted; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    token = os.environ.get(args.token_env, "").strip()
    if not token:
        parser.error(f"environment variable {args.token_env} is not set or empty")
    state_url = args.state_url or os.environ.get(args.state_url_env, "").strip()
    if not state_url:
        parser.error(f"environment variable {args.state_url_env} is not set or empty")

    import uvicorn

    from airflow_provider_braze.ketch.receiver import create_receiver_app
    from airflow_provider_braze.state import KetchEventStore

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = KetchEventStore(state_url)
    store.ensure_schema()  # fail now, not on the first webhook
    app = create_receiver_app(store, token, args.max_body_bytes, prefix=args.prefix)

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    # Listen before saying so: connections made before uvicorn's loop runs wait in the backlog
    # instead of being refused (uvicorn's own listen() on this socket only sets the backlog again).
    sock.listen(2048)
    host, port = sock.getsockname()[:2]
    print(f"ketch-receiver listening on http://{host}:{port}{args.prefix.rstrip('/')}/webhook", flush=True)

    config = uvicorn.Config(app, log_level=args.log_level, access_log=False, proxy_headers=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
