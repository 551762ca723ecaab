"""``ketch-sandbox``: run the Ketch emulator as a process until SIGINT or SIGTERM.

    KETCH_WEBHOOK_TOKEN=... ketch-sandbox --port 8086 --receiver-url http://127.0.0.1:8085/ketch/webhook \\
        --send-random 500 --seed 7 --identities 50

Prints ``ketch-sandbox listening on http://127.0.0.1:PORT`` once it serves the Web API and the
callbacks. With ``--send-random N`` it then sends a random stream of N subscription changes to the
receiver (shuffled, with redeliveries) and prints one summary line; ``--expected-out`` writes the
stream's expected end state as JSON, ``--exit-after-send`` exits instead of serving on (exit code 1
when a webhook was not accepted). Tokens come from environment variables only, never argv.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow_provider_braze.sandbox.process import serve_until_signalled

if TYPE_CHECKING:  # imported when used, so that --help starts fast
    from airflow_provider_braze.sandbox.ketch.sandbox import KetchSandbox

DEFAULT_TOKEN_ENV = "KETCH_WEBHOOK_TOKEN"  # noqa: S105 - the name of an environment variable, not a token
DEFAULT_CALLBACK_TOKEN_ENV = "KETCH_CALLBACK_TOKEN"  # noqa: S105 - the name of an environment variable, not a token


def _codes(text: str) -> list[str]:
    codes = [c for c in text.replace(" ", ",").split(",") if c]
    if not codes:
        raise argparse.ArgumentTypeError("expected comma-separated codes")
    return codes


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("expected a fraction between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    from airflow_provider_braze.sandbox.ketch.sandbox import DEFAULT_ORGANIZATION
    from airflow_provider_braze.sandbox.ketch.streams import DEFAULT_CHANNELS, DEFAULT_TOPICS

    parser = argparse.ArgumentParser(
        prog="ketch-sandbox", description="A local emulator of Ketch: webhooks, Web API and DSR callbacks."
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--receiver-url", metavar="URL", help="the provider's webhook URL to send webhooks to")
    parser.add_argument(
        "--token-env",
        default=DEFAULT_TOKEN_ENV,
        metavar="NAME",
        help=f"environment variable holding the bearer token sent to the receiver. Default {DEFAULT_TOKEN_ENV}.",
    )
    parser.add_argument(
        "--callback-token-env",
        default=DEFAULT_CALLBACK_TOKEN_ENV,
        metavar="NAME",
        help=f"environment variable holding the token DSR callbacks must carry (default {DEFAULT_CALLBACK_TOKEN_ENV}; "
        "a random token when unset)",
    )
    parser.add_argument(
        "--org", default=DEFAULT_ORGANIZATION, help=f"Ketch organization code. Default {DEFAULT_ORGANIZATION}."
    )
    parser.add_argument("--property", default="website", help="property code of the webhooks")
    parser.add_argument("--environment", default="production", help="environment of the webhooks")
    parser.add_argument("--legacy-topic-shape", action="store_true", help="send topics in the older 2023 shape")
    parser.add_argument(
        "--no-forward-web-updates", action="store_true", help="do not send Web API updates to the receiver as webhooks"
    )
    parser.add_argument("--attempts", type=int, default=3, help="tries per webhook (Ketch: 3)")
    parser.add_argument("--retry-delay", type=float, default=0.2, help="seconds before the second try (doubles after)")
    stream = parser.add_argument_group("random stream")
    stream.add_argument("--send-random", type=int, metavar="N", help="send N random subscription changes once up")
    stream.add_argument("--seed", type=int, default=None, help="seed of the stream (same seed, same changes)")
    stream.add_argument("--identities", type=int, default=10, metavar="K", help="number of data subjects. Default 10.")
    stream.add_argument("--identity-kind", choices=["email", "external_id", "phone"], default="email")
    stream.add_argument("--identity-space", default=None, help="identity space code (default: the kind's name)")
    stream.add_argument("--hash", choices=["md5", "sha1"], default=None, help="send hashed identities")
    stream.add_argument("--topics", type=_codes, default=list(DEFAULT_TOPICS), help="comma-separated topic codes")
    stream.add_argument("--channels", type=_codes, default=list(DEFAULT_CHANNELS), help="comma-separated channels")
    stream.add_argument("--duplicate-rate", type=_rate, default=0.1, help="fraction redelivered with the same uid")
    stream.add_argument("--in-order", action="store_true", help="deliver in submittedTimestamp order")
    stream.add_argument("--concurrency", type=int, default=1, help="webhooks in flight at once")
    stream.add_argument("--expected-out", metavar="PATH", help="write the expected end state here as JSON")
    stream.add_argument("--exit-after-send", action="store_true", help="exit once the stream is sent")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser


def _send_random(sandbox: KetchSandbox, args: argparse.Namespace) -> bool:
    stream = sandbox.random_preference_stream(
        args.send_random,
        n_identities=args.identities,
        identity_kind=args.identity_kind,
        identity_space=args.identity_space,
        hash_format=args.hash,
        topics=args.topics,
        channels=args.channels,
        seed=args.seed,
        duplicate_rate=args.duplicate_rate,
        out_of_order=not args.in_order,
    )
    report = sandbox.deliver(stream, concurrency=args.concurrency)
    expected = stream.expected_state()
    if args.expected_out:
        rows = [{"identity": i, "topic": t, "channel": c, "status": s} for (i, t, c), s in expected.items()]
        with open(args.expected_out, "w", encoding="utf-8") as out:
            json.dump({"seed": args.seed, "expected_state": rows}, out, indent=1)
    summary = stream.summary()
    print(
        f"ketch-sandbox sent {len(report.deliveries)} webhooks ({summary['changes']} changes, "
        f"{summary['redeliveries']} redeliveries, {summary['stale_deliveries']} out of order) "
        f"to {sandbox.receiver_url} in {report.elapsed:.2f}s: {report.accepted} accepted, {report.failed} failed, "
        f"statuses {json.dumps(report.status_counts())}; "
        f"expected state: {len(expected)} (identity, topic, channel) keys",
        flush=True,
    )
    return report.failed == 0


def _send_on_start(sandbox: KetchSandbox, args: argparse.Namespace) -> int | None:
    """With ``--send-random``, send the stream; with ``--exit-after-send`` too, the exit code (1: a webhook refused)."""
    if args.send_random is None:
        return None
    all_accepted = _send_random(sandbox, args)
    if not args.exit_after_send:
        return None
    return 0 if all_accepted else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    token = None
    if args.receiver_url:
        token = os.environ.get(args.token_env, "").strip()
        if not token:
            parser.error(f"environment variable {args.token_env} is not set or empty")
    elif args.send_random is not None:
        parser.error("--send-random needs --receiver-url")
    callback_token = os.environ.get(args.callback_token_env, "").strip() or None

    from airflow_provider_braze.sandbox.ketch.delivery import DeliveryRetry
    from airflow_provider_braze.sandbox.ketch.sandbox import KetchSandbox

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        sandbox = KetchSandbox(
            args.receiver_url,
            token,
            organization=args.org,
            property_code=args.property,
            environment=args.environment,
            callback_token=callback_token,
            port=args.port,
            retry=DeliveryRetry(attempts=args.attempts, delay=args.retry_delay),
            legacy_topic_shape=args.legacy_topic_shape,
            forward_web_updates=not args.no_forward_web_updates,
        ).start()
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"ketch-sandbox: {exc}", file=sys.stderr)
        return 2
    return serve_until_signalled(sandbox, "ketch-sandbox", lambda: _send_on_start(sandbox, args))


if __name__ == "__main__":
    sys.exit(main())
