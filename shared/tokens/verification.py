"""The player's entry point: ``verify(token, account_id=..., campaign_id=...)``.

Checks run in DESIGN §2's order and the first failure wins, so an unauthenticated token
never reveals anything about its claims:

1. form (:mod:`shared.tokens.compact`): ``TOKEN_EMPTY`` / ``TOKEN_INVALID_FORMAT``;
2. a JWE is opened (:mod:`shared.tokens.opening`): ``TOKEN_DECRYPTION_FAILED``; what is inside
   must be a JWS (``TOKEN_INVALID_FORMAT`` otherwise, nested JWE included);
3. signature with the account's pinned method (:mod:`shared.tokens.signatures`):
   ``TOKEN_INVALID_SIGNATURE``;
4. claims (:mod:`shared.tokens.claims`): ``TOKEN_EXPIRED``, then ``TOKEN_INVALID_CLAIMS``.

Whatever is not the token's fault (Vault or a JWKS endpoint down) is ``UNKNOWN``, retryable.

One verification waits for Vault at most ``settings.verification_deadline`` seconds in all
(``VERIFY_DEADLINE_SECONDS``; its account read, its Transit decryption and a JWKS fetch
together), then answers ``UNKNOWN``: a hung Vault with nothing cached costs the caller one
deadline, not a timeout per read. An account whose entry has expired is verified with it
at once while one background read refreshes it (:mod:`shared.tokens.cache`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec

from shared.accounts.document import Account, check_account_id
from shared.accounts.keys import KeyStore
from shared.accounts.store import AccountStore
from shared.errors import (
    AccountInvalid,
    AccountNotFound,
    ServiceError,
    TokenDecryptionFailed,
    TokenError,
    TokenInvalidFormat,
    TokenInvalidSignature,
    VerificationUnavailable,
)
from shared.settings import Settings
from shared.tokens.cache import TtlCache
from shared.tokens.claims import check_claims
from shared.tokens.compact import CompactToken, Limits, parse_compact
from shared.tokens.deadline import call_within, deadline_in
from shared.tokens.jwks import JwksFetcher
from shared.tokens.opening import open_jwe
from shared.tokens.signatures import StaticKey, check_signature, static_key
from shared.vault import Vault

__all__ = ["SignedJws", "VerifiedToken", "Verifier", "verify", "verify_async"]


class VerifiedToken(msgspec.Struct, frozen=True, kw_only=True):
    """What a successful verification returns; only reachable through :meth:`Verifier.verify`."""

    account_id: str
    #: ``sub``: the participant's id on the customer side (numbers given as strings).
    subject: str
    campaign_id: str
    #: Every claim of the token, as signed.
    claims: dict[str, Any]
    profile: dict[str, Any]
    custom: dict[str, Any]
    #: True when the token arrived as a JWE.
    encrypted: bool
    #: Our Transit key version for JWEs we sealed; None for a JWS or a customer-made JWE.
    key_version: int | None
    #: The JWS signature algorithm that verified.
    algorithm: str


class SignedJws(msgspec.Struct, frozen=True):
    """A JWS whose signature verified for ``account``; its claims are NOT validated."""

    account: Account
    header: dict[str, Any]
    claims: dict[str, Any]
    algorithm: str


class _Prepared(msgspec.Struct, frozen=True):
    #: None: Vault says there is no such account (cached like any answer, so unknown ids
    #: neither reach Vault on every request nor answer slower than disabled ones).
    account: Account | None
    key: StaticKey


class Verifier:
    """Verifies tokens for any account; holds the caches, so build one and share it.

    Args:
        vault: Vault facade (player role: read accounts, decrypt with account keys).
        settings: cache TTLs, the Vault timeout and the verification deadline; defaults to
            ``vault.settings``.
        clock: seconds since the epoch, for claim checks (tests freeze it).
        jwks: the JWKS fetcher (shared cache across accounts).
        limits: token and header size limits.
    """

    def __init__(
        self,
        vault: Vault,
        *,
        settings: Settings | None = None,
        clock: Callable[[], float] = time.time,
        jwks: JwksFetcher | None = None,
        limits: Limits = Limits(),
    ) -> None:
        settings = settings or vault.settings
        self._accounts = AccountStore(vault)
        self._keys = KeyStore(vault)
        self._jwks = jwks or JwksFetcher(allow_loopback=settings.jwks_allow_loopback_http)
        self._clock = clock
        self._limits = limits
        self._deadline = settings.verification_deadline
        self._vault_timeout = settings.vault_timeout
        self._cache: TtlCache[str, _Prepared] = TtlCache(
            settings.cache_ttl,
            stale_if_error=settings.cache_stale_if_error,
            refresh_ahead=0.75,
            stale_while_revalidate=self._deadline,
            deadline=self._deadline,
        )

    def _load(self, account_id: str) -> _Prepared:
        try:
            account = self._accounts.get(account_id)
        except AccountNotFound:
            return _Prepared(account=None, key=None)
        try:
            key = static_key(account) if account.active else None
        except AccountInvalid as exc:
            raise AccountInvalid(
                f"account {account_id!r} has an unusable key: {exc.detail}"
            ) from exc
        return _Prepared(account=account, key=key)

    def forget(self, account_id: str) -> None:
        """Drop what is cached for ``account_id``: the next call reads it from Vault (the
        account just changed: :mod:`shared.server.account_changes`)."""
        self._cache.invalidate(account_id)

    def expire_all(self) -> None:
        """Have every cached account reloaded on its next use (served stale if Vault
        cannot be asked): changes may have been missed."""
        self._cache.expire_all()

    def deadline(self) -> float:
        """The deadline of a verification starting now (a :func:`time.monotonic` instant),
        for a caller that shares it among several steps (the Crypto API's encrypt)."""
        return deadline_in(self._deadline)

    def active_account(self, account_id: str, *, deadline: float | None = None) -> Account:
        """The account, if it exists and is active (from the cache when fresh, or stale
        while it is refreshed).

        Raises:
            AccountNotFound: unknown, disabled or malformed id (one message for all three,
                so callers cannot tell them apart).
            VerificationUnavailable: Vault cannot be asked, or not before ``deadline``
                (by default the verification deadline from now).
        """
        return self._account(account_id, refuse=AccountNotFound, deadline=deadline)[0]

    def _account(
        self, account_id: str, *, refuse: type[ServiceError], deadline: float | None
    ) -> tuple[Account, StaticKey]:
        try:
            check_account_id(account_id)
        except AccountInvalid as exc:
            # An id that cannot exist names no account: refuse the token as for an unknown
            # one, rather than report a retryable outage (UNKNOWN) that no retry can fix.
            raise refuse(f"account {account_id!r} is unknown or disabled") from exc
        try:
            prepared = self._cache.get(
                account_id, lambda: self._load(account_id), deadline=deadline
            )
        except AccountInvalid as exc:
            raise VerificationUnavailable(f"account misconfigured: {exc.detail}") from exc
        except ServiceError as exc:
            raise VerificationUnavailable(
                f"cannot read the account now ({exc.code}); retry later"
            ) from exc
        if prepared.account is None or not prepared.account.active:
            raise refuse(f"account {account_id!r} is unknown or disabled")
        return prepared.account, prepared.key

    def _inner(self, plaintext: bytes) -> CompactToken:
        try:
            inner = parse_compact(plaintext, self._limits)
        except TokenError as exc:
            raise TokenInvalidFormat(f"the JWE does not contain a JWS: {exc.detail}") from exc
        if inner.is_jwe:
            raise TokenInvalidFormat("a JWE inside a JWE is not accepted")
        return inner

    def verify(
        self,
        token: object,
        *,
        account_id: str,
        campaign_id: str | int,
        deadline: float | None = None,
    ) -> VerifiedToken:
        """Verify a secure token (JWS, or JWE around a JWS) for an account and campaign.

        ``deadline`` (a :func:`time.monotonic` instant) bounds the waits for Vault and a
        JWKS endpoint, all together; by default :meth:`deadline`.

        Returns:
            The verified token; claims are only reachable through this.

        Raises:
            TokenError: one subclass per DESIGN §2 code; ``VerificationUnavailable``
                (``UNKNOWN``, ``retryable``) when the failure is not the token's fault.
            ValueError: ``campaign_id`` is not a non-empty string or an integer (a bug in
                the caller, not a bad token: ``None`` must never match a token's claim).
        """
        if not (
            (isinstance(campaign_id, str) and campaign_id.strip())
            or (isinstance(campaign_id, int) and not isinstance(campaign_id, bool))
        ):
            raise ValueError(f"campaign_id must be a non-empty string or an int: {campaign_id!r}")
        return self._verify(token, account_id, campaign_id, allow_jwe=True, deadline=deadline)

    def verify_assertion(
        self, token: object, *, account_id: str, deadline: float | None = None
    ) -> VerifiedToken:
        """Verify a secure token presented as an RFC 7523 assertion (Authorization API).

        Every check of :meth:`verify` except the campaign match (the campaign is not known
        there; ``campaignId`` must still be present). Only a JWS is accepted: a JWE is
        ``TOKEN_INVALID_FORMAT``. ``deadline`` as for :meth:`verify`.

        Raises:
            TokenError: as :meth:`verify`.
        """
        return self._verify(token, account_id, None, allow_jwe=False, deadline=deadline)

    def authenticate(self, token: object, *, account_id: str) -> SignedJws:
        """Check a JWS's form and signature with the account's method; claims unchecked.

        .. warning:: The claims returned are authentic but **not validated**: the caller
           must apply its own claim rules (e.g. RFC 7523 client assertions).

        Raises:
            TokenEmpty, TokenInvalidFormat, TokenInvalidSignature, VerificationUnavailable.
        """
        jws = parse_compact(token, self._limits)
        if jws.is_jwe:
            raise TokenInvalidFormat("a JWS is expected here, not a JWE")
        deadline = self.deadline()
        account, key = self._account(account_id, refuse=TokenInvalidSignature, deadline=deadline)
        algorithm = self._signature(jws, account, key, deadline)
        return SignedJws(
            account=account,
            header=jws.header,
            claims=jws.payload or {},
            algorithm=algorithm,
        )

    def _signature(
        self, jws: CompactToken, account: Account, key: StaticKey, deadline: float
    ) -> str:
        if key is not None:  # a key of the account's own: no I/O
            return check_signature(jws, account, key, self._jwks)
        return call_within(
            deadline,
            lambda: check_signature(jws, account, key, self._jwks),
            bound=self._jwks.timeout,
        )

    def _verify(
        self,
        token: object,
        account_id: str,
        campaign_id: str | int | None,
        *,
        allow_jwe: bool,
        deadline: float | None,
    ) -> VerifiedToken:
        outer = parse_compact(token, self._limits)
        if deadline is None:
            deadline = self.deadline()
        key_version = None
        if outer.is_jwe:
            if not allow_jwe:
                raise TokenInvalidFormat("a JWS is expected here, not a JWE")
            account, key = self._account(
                account_id, refuse=TokenDecryptionFailed, deadline=deadline
            )
            plaintext, key_version = call_within(
                deadline, lambda: open_jwe(outer, account, self._keys), bound=self._vault_timeout
            )
            jws = self._inner(plaintext)
        else:
            account, key = self._account(
                account_id, refuse=TokenInvalidSignature, deadline=deadline
            )
            jws = outer
        algorithm = self._signature(jws, account, key, deadline)
        claims = jws.payload or {}
        subject, campaign = check_claims(
            claims, account=account, campaign_id=campaign_id, now=self._clock()
        )
        return VerifiedToken(
            account_id=account.id,
            subject=subject,
            campaign_id=campaign,
            claims=claims,
            profile=claims.get("profile") or {},
            custom=claims.get("custom") or {},
            encrypted=outer.is_jwe,
            key_version=key_version,
            algorithm=algorithm,
        )

    def now(self) -> float:
        """The verifier's clock (seconds since the epoch)."""
        return self._clock()

    async def verify_async(
        self, token: object, *, account_id: str, campaign_id: str | int
    ) -> VerifiedToken:
        """:meth:`verify` for event loops: Vault and JWKS calls run in a worker thread,
        within the same deadline.

        A JWS of an account held in the cache (fresh, or stale while it is refreshed),
        checked with a key it holds (public key or shared secret: no JWKS endpoint, no
        Transit), is verified on the loop itself: about a hundred microseconds of CPU, less
        than the thread hop would cost.
        """
        if self.verifies_inline(token, account_id):
            return self.verify(token, account_id=account_id, campaign_id=campaign_id)
        # Started before the hop: the wait for a free thread counts too.
        deadline = self.deadline()
        return await asyncio.to_thread(
            self.verify, token, account_id=account_id, campaign_id=campaign_id, deadline=deadline
        )

    def holds_account(self, account_id: str) -> bool:
        """Whether the account's document is at hand (cached, usable): no Vault call."""
        return self._cache.holds(account_id)

    def verifies_inline(self, token: object, account_id: str) -> bool:
        """Whether verifying ``token`` needs no I/O now: a JWS (two dots, small), and the
        account held in the cache with a key of its own (not a JWKS endpoint)."""
        if not isinstance(token, str) or token.count(".") != 2:
            return False
        if len(token) > self._limits.max_token_bytes or not self._cache.holds(account_id):
            return False
        prepared = self._cache.get(account_id, lambda: self._load(account_id))
        return prepared.key is not None


_default: Verifier | None = None
_default_lock = threading.Lock()


def _default_verifier() -> Verifier:
    global _default  # noqa: PLW0603 - one lazily built verifier per process, by design
    with _default_lock:
        if _default is None:
            _default = Verifier(Vault(Settings.from_env()))
        return _default


def verify(token: object, *, account_id: str, campaign_id: str | int) -> VerifiedToken:
    """Verify with a process-wide :class:`Verifier` configured from the environment.

    The environment is read on the first call, not at import.
    """
    return _default_verifier().verify(token, account_id=account_id, campaign_id=campaign_id)


async def verify_async(token: object, *, account_id: str, campaign_id: str | int) -> VerifiedToken:
    """Async form of :func:`verify`."""
    return await _default_verifier().verify_async(
        token, account_id=account_id, campaign_id=campaign_id
    )
