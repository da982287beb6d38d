"""``tokenctl webhooks list|replay ACCOUNT``: the player's parked profile.updated events.

An event is parked when it could not be delivered for ``WEBHOOK_PARK_AFTER_SECONDS`` (25 h);
``list`` shows them (ids, age, attempts, the last failure; never their bodies, which hold
profile values), ``replay`` queues them again with a fresh retry window, once the receiver
is fixed. Both need ``REDIS_URL``: the player's Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from redis.exceptions import RedisError

from shared.accounts.document import check_account_id
from shared.cli._context import Context
from shared.errors import ConfigurationError, VerificationUnavailable
from shared.identity.webhooks import Outbox, Queued, outbox_stream
from shared.settings import Settings
from shared.state import async_redis_client

__all__ = ["register"]

T = TypeVar("T")


def _with_outbox(work: Callable[[Outbox], Awaitable[T]]) -> T:
    url = Settings.from_env().redis_url
    if not url:
        raise ConfigurationError(
            "tokenctl webhooks needs REDIS_URL (the player's Redis, where the outbox is)"
        )

    async def run() -> T:
        # Retries after 1, 2 and 4 s, as redis-py's default would: waits out a failover.
        client = async_redis_client(url, timeout=5, retries=3, backoff=1.0)
        try:
            return await work(Outbox(client, outbox_stream()))
        except RedisError as exc:
            raise VerificationUnavailable(f"the player's Redis cannot be reached: {exc}") from exc
        finally:
            await client.aclose()

    return asyncio.run(run())


def _row(queued: Queued) -> dict[str, Any]:
    return {
        "id": queued.id,
        "first_at": datetime.fromtimestamp(queued.first_at, UTC).isoformat(timespec="seconds"),
        "attempts": queued.attempts,
        "reason": queued.reason,
    }


def _list(ctx: Context, args: argparse.Namespace) -> None:
    check_account_id(args.account)
    parked = _with_outbox(lambda outbox: outbox.parked(args.account))
    rows = [_row(q) for q in parked]
    lines = [
        f"{r['id']}  since {r['first_at']}  {r['attempts']} attempts  {r['reason']}" for r in rows
    ]
    text = "\n".join(lines) or f"no parked events for {args.account}"
    ctx.out.result({"account": args.account, "parked": rows}, text)


def _replay(ctx: Context, args: argparse.Namespace) -> None:
    check_account_id(args.account)
    ids = args.id or None
    replayed = _with_outbox(lambda outbox: outbox.replay(args.account, ids, time.time()))
    if ids is not None and (missing := sorted(set(ids) - set(replayed))):
        raise ConfigurationError(
            f"not parked for {args.account}: {', '.join(missing)} (replayed {len(replayed)})"
        )
    text = f"queued {len(replayed)} event(s) of {args.account} for delivery again"
    ctx.out.result({"account": args.account, "replayed": replayed}, text)


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``webhooks`` and its subcommands."""
    hooks = sub.add_parser(
        "webhooks", help="the player's parked profile.updated events", parents=[common]
    )
    cmds = hooks.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    listing = cmds.add_parser("list", parents=[common], help="show an account's parked events")
    listing.add_argument("account", metavar="ACCOUNT")
    listing.set_defaults(handler=_list)
    replay = cmds.add_parser(
        "replay", parents=[common], help="queue an account's parked events for delivery again"
    )
    replay.add_argument("account", metavar="ACCOUNT")
    replay.add_argument(
        "--id", action="append", metavar="EVENT_ID", help="only this event (repeatable)"
    )
    replay.set_defaults(handler=_replay)
