"""Safe retirement: which versions no unexpired token can need (pure decision, then a real
OpenBao with its own version timestamps and an injected clock)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import hvac
import msgspec
import pytest

from shared import Account, AccountStore, KeyStore, TokenDecryptionFailed, Vault, Verifier
from shared.accounts import KeySet, KeyVersion, TokenPolicy
from shared.accounts.retirement import LifetimeBound, lifetime_bound, plan, retire_safely
from shared.errors import KeyOperationRefused
from shared.tokens.sealing import seal
from tests.support.tokens import claims, sign

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
BOUNDED = TokenPolicy(require_exp=True, max_lifetime=3600, leeway=60)
#: max_lifetime + 3 x leeway
HORIZON = timedelta(seconds=3600 + 180)
LAG = 30.0


def key_set(*created: datetime | None, floor: int = 1) -> KeySet:
    """A key set whose version n (from 1) was created at ``created[n-1]``."""
    latest = len(created)
    versions = tuple(
        KeyVersion(
            version=n,
            created_at=created[n - 1],
            status="encrypt" if n == latest else "decrypt" if n >= floor else "retired",
        )
        for n in range(latest, 0, -1)
    )
    return KeySet("acme", "rsa-2048", latest, floor, versions, ())


def bound(since: datetime | None = None) -> LifetimeBound:
    return LifetimeBound(max_lifetime=3600, leeway=60, since=since)


def test_a_version_is_unneeded_exactly_lag_plus_horizon_after_its_successor() -> None:
    """Version 1 is kept one microsecond before c(2) + lag + horizon, retired at it."""
    keys = key_set(T0, T0 + DAY, T0 + 2 * DAY)
    edge = T0 + DAY + timedelta(seconds=LAG) + HORIZON
    before = plan(keys, bound(), sealing_lag=LAG, now=edge - timedelta(microseconds=1))
    at = plan(keys, bound(), sealing_lag=LAG, now=edge)
    assert (before.below, before.retire) == (1, ())
    assert (at.below, at.retire) == (2, (1,))
    assert at.verdicts[0].unneeded_from == edge
    assert [v.retire for v in at.verdicts] == [True, False]


def test_every_old_enough_version_is_retired_and_the_latest_never() -> None:
    """Long after the last rotation, all versions but the latest are retired."""
    keys = key_set(T0, T0 + DAY, T0 + 2 * DAY)
    decided = plan(keys, bound(), sealing_lag=LAG, now=T0 + 30 * DAY)
    assert (decided.below, decided.retire) == (3, (1, 2))
    assert [v.version for v in decided.verdicts] == [1, 2]


def test_retirement_is_a_floor_so_a_needed_version_keeps_newer_ones() -> None:
    """A version whose successor's creation time is unknown blocks every newer one."""
    keys = key_set(T0, T0 + DAY, None, T0 + 3 * DAY)
    decided = plan(keys, bound(), sealing_lag=LAG, now=T0 + 30 * DAY)
    assert (decided.below, decided.retire) == (2, (1,))
    kept = {v.version: v.reason for v in decided.verdicts if not v.retire}
    assert "is not known" in kept[2]
    assert "retirement is a floor" in kept[3]


def test_only_live_versions_above_the_floor_are_considered() -> None:
    """Versions already retired are not planned again; the floor only moves up."""
    keys = key_set(T0, T0 + DAY, T0 + 2 * DAY, floor=2)
    decided = plan(keys, bound(), sealing_lag=LAG, now=T0 + 30 * DAY)
    assert (decided.below, decided.retire) == (3, (2,))
    assert [v.version for v in decided.verdicts] == [2]


def test_a_version_in_use_before_the_bound_held_is_never_safe() -> None:
    """Tokens sealed before the bound (plus the lag) are unbounded: their version is kept,
    and so every newer one; versions made after it are judged by the clock."""
    keys = key_set(T0, T0 + 10 * DAY, T0 + 20 * DAY)
    decided = plan(keys, bound(since=T0 + 5 * DAY), sealing_lag=LAG, now=T0 + 90 * DAY)
    assert decided.retire == ()
    assert "before the lifetime bound held" in decided.verdicts[0].reason
    assert decided.verdicts[0].unneeded_from is None
    later = plan(key_set(T0 + 10 * DAY, T0 + 20 * DAY, T0 + 30 * DAY), bound(T0 + 5 * DAY),
                 sealing_lag=LAG, now=T0 + 90 * DAY)  # fmt: skip
    assert later.retire == (1, 2)


def test_the_bound_must_also_have_held_for_the_sealing_lag() -> None:
    """A version made within the lag after the bound took effect is not vouched for."""
    since = T0
    keys = key_set(since + timedelta(seconds=LAG - 1), T0 + DAY, T0 + 2 * DAY)
    assert plan(keys, bound(since), sealing_lag=LAG, now=T0 + 30 * DAY).retire == ()
    keys = key_set(since + timedelta(seconds=LAG), T0 + DAY, T0 + 2 * DAY)
    assert plan(keys, bound(since), sealing_lag=LAG, now=T0 + 30 * DAY).retire == (1, 2)


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        (TokenPolicy(), "does not require 'exp'"),
        (TokenPolicy(max_lifetime=3600), "does not require 'exp'"),
        (TokenPolicy(require_exp=True), "no maximum lifetime"),
        (None, "cannot be read back"),
    ],
    ids=["defaults", "max-lifetime-only", "require-exp-only", "unreadable"],
)
def test_without_a_bound_it_refuses_and_explains(policy: TokenPolicy | None, says: str) -> None:
    """A current policy that bounds no lifetime is refused with the reason and the fix."""
    with pytest.raises(KeyOperationRefused) as caught:
        lifetime_bound("acme", [(T0, policy)], since_creation=True)
    assert says in caught.value.detail
    assert "--require-exp --max-lifetime" in caught.value.detail
    assert "--below N" in caught.value.detail


def test_the_bound_takes_the_loosest_policy_of_its_run() -> None:
    """Policies tightened over time: the largest lifetime and leeway of the bounded run
    count, from the oldest bounded version; an unbounded one before it ends the run."""
    history: list[tuple[datetime, TokenPolicy | None]] = [
        (T0 + 3 * DAY, TokenPolicy(require_exp=True, max_lifetime=60, leeway=0)),
        (T0 + 2 * DAY, TokenPolicy(require_exp=True, max_lifetime=7200, leeway=5)),
        (T0 + DAY, TokenPolicy(require_exp=True, max_lifetime=600, leeway=120)),
        (T0, TokenPolicy()),
    ]
    got = lifetime_bound("acme", history, since_creation=False)
    assert got == LifetimeBound(max_lifetime=7200, leeway=120, since=T0 + DAY)
    assert got.horizon == 7200 + 360


def test_a_history_reaching_creation_bounds_every_version() -> None:
    """Bounded since the first document: no 'since' (the key predates the document by a
    moment, and no token could be sealed before the document existed)."""
    history: list[tuple[datetime, TokenPolicy | None]] = [(T0 + DAY, BOUNDED), (T0, BOUNDED)]
    assert lifetime_bound("acme", history, since_creation=True).since is None
    assert lifetime_bound("acme", history, since_creation=False).since == T0


# -- against the real OpenBao -------------------------------------------------------------


@pytest.fixture
def bounded(make_account: Callable[..., Account]) -> Account:
    """An account bounded from its creation: exp required, at most an hour, 60 s leeway."""
    return make_account(policy=BOUNDED)


def test_real_version_timestamps_shifted_by_an_injected_clock(
    bounded: Account, store: AccountStore, keystore: KeyStore
) -> None:
    """With Vault's own creation times, the clock decides: nothing right after the
    rotations, version 1 once version 2 is lag + horizon old, both later."""
    keystore.rotate(bounded.id)
    keys = keystore.rotate(bounded.id)
    created = {v.version: v.created_at for v in keys.versions}
    assert all(created.values())
    c2, c3 = created[2], created[3]
    assert c2 is not None
    assert c3 is not None
    history, since_creation = store.policy_history(bounded.id)
    assert since_creation
    got = lifetime_bound(bounded.id, history, since_creation=since_creation)
    assert got == LifetimeBound(max_lifetime=3600, leeway=60, since=None)
    lag = timedelta(seconds=LAG)
    assert plan(keys, got, sealing_lag=LAG, now=datetime.now(UTC)).retire == ()
    assert plan(keys, got, sealing_lag=LAG, now=c2 + lag + HORIZON).retire == (1,)
    assert plan(keys, got, sealing_lag=LAG, now=c3 + lag + HORIZON).retire == (1, 2)


def test_policy_history_stops_at_the_first_unbounded_document(
    make_account: Callable[..., Account], store: AccountStore
) -> None:
    """An account bounded after its creation: the bound holds since that update."""
    account = make_account()
    updated = store.update(msgspec.structs.replace(account, policy=BOUNDED))
    history, since_creation = store.policy_history(account.id)
    assert [p for _, p in history] == [BOUNDED, TokenPolicy()]
    assert not since_creation
    got = lifetime_bound(account.id, history, since_creation=since_creation)
    assert got.since is not None
    assert updated.updated_at is not None
    assert abs(got.since - updated.updated_at) < timedelta(seconds=5)


def test_a_deleted_document_version_ends_the_history(
    bounded: Account, store: AccountStore, vault: Vault
) -> None:
    """A deleted version's policy is unknown: the history stops above it, and no longer
    vouches for the account since its creation."""
    for lifetime in (1800, 900):
        store.update(
            msgspec.structs.replace(
                bounded, policy=msgspec.structs.replace(BOUNDED, max_lifetime=lifetime)
            )
        )
    assert store.policy_history(bounded.id)[1]
    client = hvac.Client(url=vault.settings.vault_addr, token=vault.settings.vault_token)
    client.secrets.kv.v2.delete_secret_versions(
        path=f"accounts/{bounded.id}", versions=[2], mount_point=vault.settings.kv_mount
    )
    history, since_creation = store.policy_history(bounded.id)
    assert [p.max_lifetime for _, p in history if p is not None] == [900]
    assert not since_creation
    assert lifetime_bound(bounded.id, history, since_creation=since_creation).since == history[0][0]


def test_retire_safely_retires_exactly_the_unneeded_and_newer_tokens_keep_verifying(
    bounded: Account, store: AccountStore, keystore: KeyStore, verifier: Verifier
) -> None:
    """At c(2) + lag + horizon: version 1 is retired (its tokens stop opening), and a token
    sealed under version 2, which could still be unexpired then, keeps verifying."""
    v1 = keystore.get(bounded.id).latest
    keystore.rotate(bounded.id)
    v2 = keystore.get(bounded.id).latest
    time.sleep(0.01)  # c(3) strictly after c(2): version 2 is then still needed
    keys = keystore.rotate(bounded.id)
    c2 = next(v.created_at for v in keys.versions if v.version == 2)
    c3 = next(v.created_at for v in keys.versions if v.version == 3)
    assert c2 is not None
    assert c3 is not None
    assert c3 > c2
    now = c2 + timedelta(seconds=LAG) + HORIZON
    jws = sign(claims(exp=int(time.time()) + 3000), "ES256", "ec-p256")
    sealed_v1, sealed_v2 = seal(jws, v1), seal(jws, v2)
    after, decided = retire_safely(store, keystore, bounded.id, sealing_lag=LAG, now=now)
    assert decided.retire == (1,)
    assert after.min_decryption_version == 2
    assert [(v.version, v.status) for v in after.versions] == [
        (3, "encrypt"),
        (2, "decrypt"),
        (1, "retired"),
    ]
    assert verifier.verify(sealed_v2, account_id=bounded.id, campaign_id="1001").key_version == 2
    with pytest.raises(TokenDecryptionFailed):
        verifier.verify(sealed_v1, account_id=bounded.id, campaign_id="1001")


def test_retire_safely_without_a_bound_changes_nothing(
    account_id: str, make_account: Callable[..., Account], keystore: KeyStore,
    store: AccountStore,
) -> None:  # fmt: skip
    """The default policy (no exp required, no maximum) is refused; no version retired."""
    make_account()
    keystore.rotate(account_id)
    with pytest.raises(KeyOperationRefused):
        retire_safely(store, keystore, account_id, sealing_lag=0, now=T0 + 3650 * DAY)
    assert keystore.get(account_id).min_decryption_version == 1
