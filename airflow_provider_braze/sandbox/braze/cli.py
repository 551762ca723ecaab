"""``braze-sandbox``: run the Braze emulator as a process until SIGINT or SIGTERM.

Prints one line, ``braze-sandbox listening on http://127.0.0.1:PORT``, once it accepts requests.
Steer it while it runs through ``/_sandbox/*`` (see ``inspection``).
"""

from __future__ import annotations

import argparse
import sys

from airflow_provider_braze.braze.endpoints import RATE_LIMIT_GROUPS
from airflow_provider_braze.sandbox.braze.sandbox import DEFAULT_API_KEY, BrazeSandbox
from airflow_provider_braze.sandbox.process import serve_until_signalled


def _rate_limit(text: str) -> tuple[str, int, float]:
    """``GROUP=LIMIT/PERIOD`` (``users_track=5/1``)."""
    try:
        group, spec = text.split("=", 1)
        limit, period = spec.split("/", 1)
        if group not in RATE_LIMIT_GROUPS:
            raise ValueError(f"unknown group {group!r}")
        return group, int(limit), float(period)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected GROUP=LIMIT/PERIOD ({exc})") from None


def _permissions(text: str) -> frozenset[str]:
    return frozenset(p for p in text.replace(",", " ").split() if p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="braze-sandbox", description="A local emulator of Braze's REST API.")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"accepted REST API key (repeatable; default {DEFAULT_API_KEY!r})",
    )
    parser.add_argument(
        "--permissions",
        type=_permissions,
        default=None,
        help="comma-separated permissions of the keys (default: all), e.g. users.track,users.delete",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every answer")
    parser.add_argument(
        "--fast", action="store_true", help="benchmark mode: no request log (latency only with --latency-ms)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault generator")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction answered with a 5xx")
    parser.add_argument("--rate-limit-storm", type=float, default=0.0, help="fraction answered with a 429")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="fraction of connections closed unanswered")
    parser.add_argument("--slow-rate", type=float, default=0.0, help="fraction of requests delayed")
    parser.add_argument("--slow-seconds", type=float, default=0.0, help="delay of a slow request")
    parser.add_argument(
        "--processed-then-timeout-rate",
        type=float,
        default=0.0,
        help="fraction applied, then answered 504 after --timeout-seconds",
    )
    parser.add_argument("--timeout-seconds", type=float, default=0.0)
    parser.add_argument(
        "--processed-then-drop-rate",
        type=float,
        default=0.0,
        help="fraction applied, then left unanswered (the connection is closed)",
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate_limit,
        action="append",
        default=[],
        metavar="GROUP=LIMIT/PERIOD",
        help="override a rate-limit group, e.g. users_track=5/1 (repeatable)",
    )
    parser.add_argument(
        "--require-fields-to-export",
        action="store_true",
        help="/users/export/ids needs fields_to_export (workspaces onboarded after 2024-08-22)",
    )
    parser.add_argument(
        "--cdi-integration",
        action="append",
        default=[],
        metavar="NAME",
        help="create a CDI integration with this name (repeatable); ids are printed",
    )
    return parser


def make_sandbox(args: argparse.Namespace) -> BrazeSandbox:
    keys = args.api_keys or [DEFAULT_API_KEY]
    return BrazeSandbox(
        api_keys=dict.fromkeys(keys, args.permissions),
        port=args.port,
        latency=args.latency_ms / 1000.0,
        fast=args.fast,
        seed=args.seed,
        rate_limits={group: (limit, period) for group, limit, period in args.rate_limit},
        require_fields_to_export=args.require_fields_to_export,
        faults={
            "error_rate": args.error_rate,
            "rate_limit_storm": args.rate_limit_storm,
            "drop_rate": args.drop_rate,
            "slow_rate": args.slow_rate,
            "slow_seconds": args.slow_seconds,
            "processed_then_timeout_rate": args.processed_then_timeout_rate,
            "timeout_seconds": args.timeout_seconds,
            "processed_then_drop_rate": args.processed_then_drop_rate,
        },
    )


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    args = build_parser().parse_args(argv)
    try:
        sandbox = make_sandbox(args).start()
    except (OSError, ValueError, KeyError) as exc:
        print(f"braze-sandbox: {exc}", file=sys.stderr)
        return 2
    for name in args.cdi_integration:
        print(f"braze-sandbox CDI integration {name!r}: {sandbox.add_cdi_integration(integration_name=name)}")
    return serve_until_signalled(sandbox, "braze-sandbox")


if __name__ == "__main__":
    sys.exit(main())
