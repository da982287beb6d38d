"""Safe retirement: the key versions that no unexpired token can still need.

A JWE is sealed under the version that is the latest when it is made, and the Crypto API
may go on sealing under a version for a while after its successor appeared: it trusts its
cached key set for ``cache_ttl``, and during a Vault outage for ``cache_stale_if_error``
more (the *sealing lag*). So every token of version ``v`` was sealed by ``c(v+1) + lag``,
``c`` being a version's creation time.

Where the account's policy bounds lifetimes (``require_exp`` and ``max_lifetime``), the
Crypto API, which verifies before it seals, only seals a token whose ``exp`` is at most
``max_lifetime + leeway`` after its ``iat`` (or after the sealing, without ``iat``), and an
``iat`` at most ``leeway`` ahead; the player then accepts it until ``leeway`` after its
``exp``. A token sealed at ``s`` is therefore refused by everyone from
``s + max_lifetime + 3 x leeway`` (the *horizon*), and version ``v`` is needed by no
unexpired token from ``c(v+1) + lag + horizon``.

That holds for tokens sealed while the bound held: before it, a token without ``iat``
could have been given any ``exp``, and verification (which measures a lifetime without
``iat`` from *now*) does not catch it. So a version in use before the bound took effect
(plus the lag, for cached account documents) is never called safe; one that the history
cannot vouch for (trimmed KV versions) neither. Tokens sealed outside the Crypto API (a
customer encrypting with the published JWKS, ``tokenctl token seal``) are not verified
first, nor bound to the latest version: the guarantee does not cover them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import msgspec

from shared.accounts.document import TokenPolicy
from shared.accounts.keys import KeySet, KeyStore
from shared.accounts.store import AccountStore
from shared.errors import KeyOperationRefused

__all__ = [
    "LifetimeBound",
    "SafeRetirement",
    "VersionVerdict",
    "lifetime_bound",
    "plan",
    "plan_for",
    "retire_safely",
]


class LifetimeBound(msgspec.Struct, frozen=True):
    """How long a token of the account can live, as its policy history guarantees."""

    #: The largest ``max_lifetime`` and ``leeway`` the bounded run of policies allowed.
    max_lifetime: int
    leeway: int
    #: Since when every policy bounded lifetimes; None: since the account was created.
    since: datetime | None

    @property
    def horizon(self) -> int:
        """Seconds after its sealing from which any token is refused everywhere."""
        return self.max_lifetime + 3 * self.leeway


class VersionVerdict(msgspec.Struct, frozen=True):
    """Whether one live, non-latest version may be retired now, and why."""

    version: int
    retire: bool
    #: From when no unexpired token needs it; None: never provably (see ``reason``).
    unneeded_from: datetime | None
    reason: str


class SafeRetirement(msgspec.Struct, frozen=True):
    """What ``keys retire --safe`` does: the new floor and each candidate's verdict."""

    #: The new ``min_decryption_version`` (the current one when nothing is retired).
    below: int
    retire: tuple[int, ...]
    horizon: int
    sealing_lag: float
    bound: LifetimeBound
    verdicts: tuple[VersionVerdict, ...]


def _when(moment: datetime) -> str:
    """A time for people: to the second (the decision itself uses the exact one)."""
    return moment.isoformat(timespec="seconds")


def _unbounded(policy: TokenPolicy | None) -> str | None:
    """Why ``policy`` does not bound a token's lifetime, or None when it does."""
    if policy is None:
        return "its stored document cannot be read back"
    if not policy.require_exp:
        return (
            "its policy does not require 'exp', so a token without one never expires and "
            "any version may still be needed"
        )
    if policy.max_lifetime is None:
        return (
            "its policy sets no maximum lifetime, so a token's 'exp' may lie any time "
            "ahead and any version may still be needed"
        )
    return None


def lifetime_bound(
    account_id: str, history: Sequence[tuple[datetime, TokenPolicy | None]], *, since_creation: bool
) -> LifetimeBound:
    """The bound the account's policies guaranteed, from its history (newest first).

    ``since_creation``: the history reaches the account's first document.

    Raises:
        KeyOperationRefused: the current policy bounds no lifetime; ``detail`` says what to
            set instead.
    """
    if not history:
        raise KeyOperationRefused(f"account {account_id!r} has no stored document")
    why = _unbounded(history[0][1])
    if why is not None:
        raise KeyOperationRefused(
            f"cannot tell which versions of {account_id!r} are safe to retire: {why}. Bound "
            f"it (tokenctl accounts update {account_id} --require-exp --max-lifetime S), or "
            "retire explicitly with --below N"
        )
    run: list[tuple[datetime, TokenPolicy]] = []
    for written, policy in history:
        if policy is None or _unbounded(policy) is not None:
            break
        run.append((written, policy))
    complete = since_creation and len(run) == len(history)
    return LifetimeBound(
        max_lifetime=max(p.max_lifetime or 0 for _, p in run),
        leeway=max(p.leeway for _, p in run),
        since=None if complete else run[-1][0],
    )


def plan(
    keys: KeySet, bound: LifetimeBound, *, sealing_lag: float, now: datetime
) -> SafeRetirement:
    """Which versions ``keys retire --safe`` retires at ``now`` (the clock is a parameter).

    Retirement is a floor (``min_decryption_version``), so a version is retired only with
    every older one: the first version still needed keeps itself and all newer ones.
    """
    created = {v.version: v.created_at for v in keys.versions}
    lag = timedelta(seconds=sealing_lag)
    horizon = timedelta(seconds=bound.horizon)
    verdicts: list[VersionVerdict] = []
    below = keys.min_decryption_version
    blocked: int | None = None
    for version in range(keys.min_decryption_version, keys.latest_version):
        own, successor = created.get(version), created.get(version + 1)
        unneeded: datetime | None = None
        if successor is None:
            reason = f"when version {version + 1} became current is not known"
        elif bound.since is not None and (own is None or own < bound.since + lag):
            reason = (
                f"it was in use before the lifetime bound held ({_when(bound.since)} "
                "plus the sealing lag): tokens sealed then without 'iat' are not bounded"
            )
        else:
            unneeded = successor + lag + horizon
            reason = f"version {version + 1} became current at {_when(successor)}, so " + (
                f"its tokens have all expired (by {_when(unneeded)})"
                if now >= unneeded
                else f"its tokens may be valid until {_when(unneeded)}"
            )
        ok = unneeded is not None and now >= unneeded
        if ok and blocked is not None:
            reason += f"; kept because version {blocked} is still needed (retirement is a floor)"
        retire = ok and blocked is None
        if retire:
            below = version + 1
        elif blocked is None:
            blocked = version
        verdicts.append(VersionVerdict(version, retire, unneeded, reason))
    return SafeRetirement(
        below=below,
        retire=tuple(range(keys.min_decryption_version, below)),
        horizon=bound.horizon,
        sealing_lag=sealing_lag,
        bound=bound,
        verdicts=tuple(verdicts),
    )


def plan_for(
    accounts: AccountStore, keys: KeyStore, account_id: str, *, sealing_lag: float, now: datetime
) -> tuple[KeySet, SafeRetirement]:
    """The account's key set and :func:`plan` for it, from its policy history in Vault.

    Raises:
        AccountNotFound: no such account.
        KeyOperationRefused: its policy bounds no lifetime (see :func:`lifetime_bound`).
    """
    history, since_creation = accounts.policy_history(account_id)
    bound = lifetime_bound(account_id, history, since_creation=since_creation)
    current = keys.get(account_id)
    return current, plan(current, bound, sealing_lag=sealing_lag, now=now)


def retire_safely(
    accounts: AccountStore, keys: KeyStore, account_id: str, *, sealing_lag: float, now: datetime
) -> tuple[KeySet, SafeRetirement]:
    """Retire what :func:`plan_for` finds unneeded; returns the key set after it."""
    current, decided = plan_for(accounts, keys, account_id, sealing_lag=sealing_lag, now=now)
    if decided.below == current.min_decryption_version:
        return current, decided
    return keys.retire(account_id, decided.below), decided
