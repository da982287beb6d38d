"""verify_async verifies on the event loop only when no I/O can be needed: a JWS of an
account held in the cache with a key of its own. Anything else goes to a thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import pytest

from shared import TokenError, Vault, Verifier
from tests.support.verification import CAMPAIGN, Accounts


class Recording(Verifier):
    """Records the thread each verification ran on."""

    threads: list[int]

    def verify(self, token: object, **kwargs: Any) -> Any:
        self.threads.append(threading.get_ident())
        return super().verify(token, **kwargs)


def _where(verifier: Recording, token: str, account_id: str) -> str:
    """'loop' or 'thread': where verify_async ran the verification."""
    verifier.threads = []

    async def run() -> int:
        with contextlib.suppress(TokenError):  # where it ran is the question, not the answer
            await verifier.verify_async(token, account_id=account_id, campaign_id=CAMPAIGN)
        return threading.get_ident()

    loop_thread = asyncio.run(run())
    (ran,) = verifier.threads
    return "loop" if ran == loop_thread else "thread"


@pytest.fixture
def recording(vault: Vault, frozen: Verifier) -> Recording:
    return Recording(vault, clock=frozen.now)


def test_a_cached_accounts_jws_is_verified_on_the_loop(
    recording: Recording, accounts: Accounts, ec_jws: str
) -> None:
    assert _where(recording, ec_jws, accounts.ec.id) == "thread"  # first: Vault is read
    assert recording.holds_account(accounts.ec.id)
    assert _where(recording, ec_jws, accounts.ec.id) == "loop"


def test_a_jwe_always_goes_to_a_thread(
    recording: Recording, accounts: Accounts, ec_jws: str, sealed: str
) -> None:
    """Opening a JWE asks Transit: never on the loop, cached account or not."""
    _where(recording, ec_jws, accounts.ec.id)
    assert _where(recording, sealed, accounts.ec.id) == "thread"


def test_an_unknown_or_uncached_account_goes_to_a_thread(
    recording: Recording, accounts: Accounts, ec_jws: str
) -> None:
    assert _where(recording, ec_jws, "no-such-account") == "thread"
    assert _where(recording, ec_jws, "no-such-account") == "thread"  # cached as unknown
    recording.forget(accounts.ec.id)
    assert _where(recording, ec_jws, accounts.ec.id) == "thread"


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d.e", "x" * 20_000 + ".a.b"])
def test_malformed_tokens_take_the_usual_path(
    recording: Recording, accounts: Accounts, ec_jws: str, token: str
) -> None:
    """What is not a plausible JWS is refused by the ordinary path, in a thread."""
    _where(recording, ec_jws, accounts.ec.id)
    assert not recording.verifies_inline(token, accounts.ec.id)
