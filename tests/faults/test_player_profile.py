"""The customer's profile API down, then slower than the player's bounds, under load.

Expected (docs/player.md, "Access token instead of data"): a page or an identify whose
token carries an access token instead of data needs the profile API; while it is down or
slow, those answer 503 + Retry-After with ``UNKNOWN`` (the screen says "try again"; the
form is not shown half-empty), at once when it is down and within its bounds when it is
slow (the 3 s read timeout, within the 5 s deadline), never a hang; everything else
(tokens with data, form submissions) is 200 throughout; once the profile API answers
again, so does the player.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable

from shared.accounts import Account
from shared.identity import ensure_form_keys
from shared.identity.profile_api import ProfileApi
from shared.settings import Settings
from shared.vault import Vault
from tests.support.faults.load import Load, check_answers, describe, first_success_after, slowest
from tests.support.faults.player import Participants, page_code, put_account, serve_player
from tests.support.profile_server import ProfileServer
from tests.support.redis_server import RedisServer
from tests.support.tcp_proxy import TcpProxy

#: ProfileApi's bounds (not settings): between two reads, and over a whole exchange.
_BOUNDS = inspect.signature(ProfileApi).parameters
READ_TIMEOUT: float = _BOUNDS["read_timeout"].default
DEADLINE: float = _BOUNDS["deadline"].default
#: A slow profile API answers after this (past the deadline: the read timeout ends it).
SLOW = DEADLINE + 2.0
CALL_BOUND = DEADLINE + 1.5
RECOVERY_BOUND = 2.0
NEEDS_PROFILES = ("prefill", "identify_profile")


def test_profile_api_down_then_slow(
    settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    redis_server: RedisServer,
) -> None:
    """Profile API refusing connections for 2.5 s, then answering 7 s late for 7 s: pages
    and identifies needing it 503 UNKNOWN + Retry-After (at once, then after the 3 s read
    timeout), the rest 200 throughout; back within 2 s of each fault's end."""
    ensure_form_keys(vault)
    account = make_account().id
    participants = Participants(account)
    profiles = ProfileServer().start()
    with (
        TcpProxy("127.0.0.1", profiles.port) as proxy,
        serve_player(settings, redis_server.url) as url,
    ):
        put_account(vault, account, profile_api=f"{proxy.addr}/profile", webhook_url=None)
        participants.show_forms(url, 10)
        kinds = ("prefill", "page", "identify_profile", "submit", "identify", "prefill")
        with Load(url, participants.requests(*kinds), clients=6, pause=0.02) as load:
            start = time.monotonic()
            time.sleep(1.0)
            down = time.monotonic()
            proxy.stop()  # down: connections refused, open ones reset
            time.sleep(2.5)
            proxy.start()
            up = time.monotonic()
            time.sleep(1.5)
            proxy.delay = SLOW  # slow: each answer held past the deadline
            slow = time.monotonic()
            time.sleep(7.0)
            proxy.delay = 0.0
            fast = time.monotonic()
            time.sleep(SLOW + 1.0)  # answers held before the end still come late
            calls = load.stop()
    profiles.stop()
    summary = describe(calls, start)
    print(summary)  # the figures: pytest -rP tests/faults/test_player_profile.py

    assert check_answers(calls) == [], summary
    refused = [c for c in calls if c.status != 200]
    assert {c.kind for c in refused} <= set(NEEDS_PROFILES), summary
    assert {(c.status, page_code(c.body)) for c in refused} == {(503, "UNKNOWN")}, summary
    during_down = [c for c in refused if c.sent < up]
    during_slow = [c for c in refused if c.sent >= up]
    assert during_down, summary
    assert during_slow, summary
    assert [c for c in during_down if c.received < down or c.sent > up] == [], summary
    assert [c for c in during_down if c.seconds > 1.0] == [], summary  # refused at once
    assert [c for c in during_slow if c.sent < slow - 0.5 or c.sent > fast] == [], summary
    held = [c for c in during_slow if not READ_TIMEOUT - 0.2 < c.seconds < CALL_BOUND]
    assert held == [], summary
    worst = slowest(calls)
    assert worst is not None
    assert worst.seconds < CALL_BOUND, (worst, summary)
    for kind in NEEDS_PROFILES:
        assert first_success_after(calls, up, kind) < RECOVERY_BOUND, (kind, summary)
        # Calls held when it sped up finish their read timeout first.
        recovered = first_success_after(calls, fast, kind)
        assert recovered < READ_TIMEOUT + RECOVERY_BOUND, (kind, summary)
    prefilled = [c for c in calls if c.kind == "prefill" and c.status == 200]
    assert all('value="ada@example.com"' in c.body for c in prefilled)
    print(
        f"down: {len(during_down)} x 503 within {max(c.seconds for c in during_down):.2f} s; "
        f"slow: {len(during_slow)} x 503 after "
        f"{min(c.seconds for c in during_slow):.2f}-{max(c.seconds for c in during_slow):.2f} s"
    )
