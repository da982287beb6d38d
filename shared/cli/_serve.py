"""``tokenctl serve authz|crypto|player``: run an API under uvicorn (uvloop + httptools,
with a bound on request heads: :mod:`shared.cli._bounded_http`).

Settings come from the environment (DESIGN §9), read by each worker's app factory. For the
Authorization API, ``AUTHZ_ISSUER`` defaults to ``http://HOST:PORT`` so a local run works
without it; behind a proxy, set it to the public URL.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from shared.cli._context import Context
from shared.cli._up import port_in_use
from shared.errors import ConfigurationError
from shared.server.replay_store import check_replay_settings
from shared.settings import Settings

__all__ = ["register"]

#: Each worker builds its app, then settles its garbage collector (shared.cli._workers).
_FACTORIES = {
    "authz": "shared.cli._workers:authz",
    "crypto": "shared.cli._workers:crypto",
    "player": "shared.cli._workers:player",
}


def _serve(ctx: Context, args: argparse.Namespace) -> None:
    if args.api == "player" and not os.environ.get("REDIS_URL"):
        # The player keeps participations and used forms in Redis: without it, every
        # worker and restart would forget them (a form could be submitted twice).
        raise ConfigurationError(
            "tokenctl serve player needs REDIS_URL (participations and used forms are kept "
            "in Redis): set REDIS_URL=redis://HOST:PORT/0"
        )
    if args.api == "authz" and not os.environ.get("AUTHZ_ISSUER"):
        os.environ["AUTHZ_ISSUER"] = f"http://{args.host}:{args.port}"
    if port_in_use(args.host, args.port):
        # uvicorn would log a bind error and exit 1 without naming the option.
        raise ConfigurationError(
            f"port {args.port} on {args.host} is in use: stop what holds it, or choose "
            "another with --port P"
        )
    settings = Settings.from_env()  # fail now, in one line, rather than in every worker
    if args.workers is None:
        args.workers = _default_workers(ctx, args.api, settings)
    if args.api == "authz":
        # Each worker (instance) without Redis would keep its own replay store: a client
        # assertion could then be used once per worker.
        check_replay_settings(settings, processes=args.workers)
    metrics_dir = None
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker has its own counters: prometheus_client's multiprocess mode (which
        # Litestar's /metrics honours) adds them up, whichever worker answers the scrape.
        metrics_dir = tempfile.mkdtemp(prefix="tokenctl-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    ctx.out.note(f"serving {args.api} on http://{args.host}:{args.port} ({args.workers} worker(s))")
    try:
        _run(args)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _default_workers(ctx: Context, api: str, settings: Settings) -> int:
    """Every core (DESIGN §9); the Authorization API without ``REDIS_URL`` runs one worker,
    since each would keep a replay store of its own (and says so)."""
    cores = os.cpu_count() or 1
    if api == "authz" and not settings.redis_url:
        if cores > 1 and settings.authz_single_instance:
            ctx.out.note(
                f"one worker, not {cores}: without REDIS_URL each authz worker would keep "
                "its own replay store; set REDIS_URL to use every core"
            )
        return 1  # without AUTHZ_SINGLE_INSTANCE either, the replay check refuses next
    return cores


def _run(args: argparse.Namespace) -> None:
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    uvicorn.run(
        _FACTORIES[args.api],
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # Our JSON access log replaces uvicorn's, which would print query strings.
        access_log=False,
        log_level="warning",
        server_header=False,
        # httptools with a bound on each request's head (431 past 16 KiB or 100 headers):
        # neither uvicorn nor httptools has one (issue 11, finding 5).
        http="shared.cli._bounded_http:BoundedHttpToolsProtocol",
    )


def _workers(value: str) -> int:
    try:
        workers = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of workers: {value!r}") from None
    if not 1 <= workers <= 256:
        raise argparse.ArgumentTypeError(f"--workers is 1 to 256, got {workers}")
    return workers


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``serve``."""
    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="run the Authorization API, the Crypto API or the player",
        description="Run an API under uvicorn. Configuration: the VAULT_* and AUTHZ_* "
        "environment variables (see README); the player also needs REDIS_URL.",
    )
    serve.add_argument("api", choices=sorted(_FACTORIES))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=_workers,
        default=None,
        help="worker processes (default: one per core; authz without REDIS_URL: one)",
    )
    serve.set_defaults(handler=_serve)
