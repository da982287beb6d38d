"""The Crypto API's logic (DESIGN §6): verify a customer's JWS, then seal it into a JWE.

The JWS is verified first, with the account's own method and the claim rules (all but
the campaign match), so a customer hears about a bad token now, not when a participant is
turned away. Sealing uses the account's latest public key from a cache that Vault feeds
in the background: while Vault is down, accounts whose keys we hold keep being served.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Final

from shared.accounts.document import Account
from shared.accounts.keys import KeyStore
from shared.errors import (
    AccountDisabled,
    AccountNotFound,
    JwksRefused,
    RateLimited,
    ServiceError,
    TokenError,
    VerificationUnavailable,
)
from shared.server.bearer_check import BearerChecker
from shared.settings import Settings
from shared.state.rate_limits import Limiter, RateLimiter
from shared.tokens.cache import TtlCache
from shared.tokens.sealing import Sealer
from shared.tokens.verification import Verifier
from shared.wire import Encrypted, ItemError

__all__ = ["ACCOUNT_JWKS_ALG", "EncryptService"]

ACCOUNT_JWKS_ALG: Final = "RSA-OAEP-256"


def _scope(limiter: Limiter) -> str:
    # Without Redis each instance has a budget of its own: the caller should know.
    return " per instance" if isinstance(limiter, RateLimiter) else ""


def _limited(limiter: Limiter, rate: float, burst: int, wait: float, batch: bool) -> RateLimited:
    what = "batch tokens" if batch else "calls"
    return RateLimited(
        f"this account's rate limit is {rate:g} {what}/s (burst {burst}){_scope(limiter)}; "
        "retry later",
        max(1, int(wait + 0.999)),
    )


class EncryptService:
    """Encrypts for the account a bearer names; thread-safe, blocking on Vault misses."""

    def __init__(
        self,
        verifier: Verifier,
        keys: KeyStore,
        settings: Settings,
        *,
        bearers: BearerChecker,
        limiter: Limiter,
        batch_limiter: Limiter | None = None,
        jwks_limiter: Limiter | None = None,
    ) -> None:
        self._verifier = verifier
        self._keys = keys
        self._bearers = bearers
        self._limiter = limiter
        #: The tokens of batch calls, a budget apart from single calls, and the key sets
        #: per address (by default per process, from the settings' ``crypto_batch_rate_*``
        #: and ``crypto_jwks_rate_*``).
        #: ``is None``, not ``or``: a RateLimiter without buckets yet is falsy (``len``).
        self._batch_limiter = (
            RateLimiter(settings.crypto_batch_rate_per_second, settings.crypto_batch_rate_burst)
            if batch_limiter is None
            else batch_limiter
        )
        self._jwks_limiter = (
            RateLimiter(settings.crypto_jwks_rate_per_second, settings.crypto_jwks_rate_burst)
            if jwks_limiter is None
            else jwks_limiter
        )
        self.batch_max = settings.batch_max
        self._sealer = Sealer(keys, settings)
        self._jwks: TtlCache[str, dict[str, list[dict[str, Any]]]] = TtlCache(
            settings.cache_ttl,
            stale_if_error=settings.cache_stale_if_error,
            refresh_ahead=0.75,
            stale_while_revalidate=settings.verification_deadline,
            deadline=settings.verification_deadline,
        )

    def authorize(self, authorization: str | None, *, cost: int = 1, batch: bool = False) -> str:
        """The active account of the request's bearer, within its rate limit (``cost``
        from the single calls' budget, or with ``batch`` the batch tokens'):
        :meth:`authenticate` then :meth:`charge`.

        Raises:
            BearerInvalid, BearerScopeMissing, JwksUnavailable, AccountDisabled,
            VerificationUnavailable, RateLimited.
        """
        account_id = self.authenticate(authorization)
        self.charge(account_id, cost, batch=batch)
        return account_id

    def deadline(self) -> float:
        """The deadline of a request starting now (``settings.verification_deadline``),
        for :meth:`authenticate` and :meth:`encrypt` to share: one wait for Vault in all."""
        return self._verifier.deadline()

    def authenticate(self, authorization: str | None, *, deadline: float | None = None) -> str:
        """The active account of the request's bearer (signature, expiry, scope, account
        not disabled), without charging its rate limit: checked before a request body is
        read, so that a caller without a valid bearer never makes us hold its body. An
        account key not cached is read meanwhile (both reads of a cold account at once).

        Raises:
            BearerInvalid, BearerScopeMissing, JwksUnavailable, AccountDisabled,
            VerificationUnavailable (also when Vault has not answered by ``deadline``).
        """
        account_id = self._bearers.check(authorization).account_id
        self._sealer.prefetch(account_id)
        self._account(account_id, deadline)
        return account_id

    def authenticate_inline(self, authorization: str | None) -> str | None:
        """:meth:`authenticate` when it needs no I/O (the bearer verified before, the account
        cached), else None: the caller then authenticates in a worker thread.

        Raises:
            As :meth:`authenticate`.
        """
        # One lookup: the bearer could be forgotten between a second one and this.
        bearer = self._bearers.remembered(authorization)
        if bearer is None:
            return None
        account_id = bearer.account_id
        if not self._verifier.holds_account(account_id):
            return None
        self._account(account_id)
        return account_id

    def seals_inline(self, account_id: str, token: object) -> bool:
        """Whether :meth:`encrypt` needs no I/O for ``token``: the account's verification
        key and its sealing key are cached (no Vault, no JWKS endpoint). About 150 µs of
        CPU then, less than a hop to a worker thread and back costs (issue 17)."""
        return self._verifier.verifies_inline(token, account_id) and self._sealer.holds(account_id)

    async def encrypt_cached(
        self, account_id: str, token: object
    ) -> Encrypted | Callable[[], Encrypted]:
        """:meth:`charge` then :meth:`encrypt`, on the event loop while
        :meth:`seals_inline` holds (checked again after the limit's await: a slow Redis);
        otherwise what remains of the two, for the caller to run in a worker thread.

        Raises:
            RateLimited; TokenError and VerificationUnavailable as :meth:`encrypt`.
        """
        if not self.seals_inline(account_id, token):
            return partial(self._charged, account_id, token)
        await self.charge_async(account_id)
        if not self.seals_inline(account_id, token):  # an entry left meanwhile
            return partial(self.encrypt, account_id, token)
        return self.encrypt(account_id, token)

    def _charged(self, account_id: str, token: object) -> Encrypted:
        self.charge(account_id)
        return self.encrypt(account_id, token)

    def _account(self, account_id: str, deadline: float | None = None) -> Account:
        try:
            return self._verifier.active_account(account_id, deadline=deadline)
        except AccountNotFound as exc:
            # The bearer is genuine but the account was disabled (or deleted) since.
            raise AccountDisabled("this account is disabled") from exc

    def charge(self, account_id: str, cost: int = 1, *, batch: bool = False) -> None:
        """Take ``cost`` from the account's budget: single calls', or with ``batch`` the
        batch tokens' (a batch costs its size). The account document's ``rate_limits``
        win over the defaults of the settings.

        Raises:
            RateLimited: with the seconds to wait; the detail names the limit, so that a
                slow campaign says why.
            AccountDisabled, VerificationUnavailable: as :meth:`authenticate` (the account
                is normally cached by then).
        """
        limiter, rate, burst = self._budget(account_id, batch)
        wait = limiter.acquire(account_id, cost, rate=rate, burst=burst)
        if wait is not None:
            raise _limited(limiter, rate, burst, wait, batch)

    async def charge_async(self, account_id: str) -> None:
        """:meth:`charge` of one single call, for the event loop (a Redis limiter is asked
        without blocking it); the account must be cached (:meth:`authenticate_inline`).

        Raises:
            RateLimited: as :meth:`charge`.
        """
        limiter, rate, burst = self._budget(account_id, False)
        wait = await limiter.acquire_async(account_id, 1, rate=rate, burst=burst)
        if wait is not None:
            raise _limited(limiter, rate, burst, wait, False)

    def _budget(self, account_id: str, batch: bool) -> tuple[Limiter, float, int]:
        limiter = self._batch_limiter if batch else self._limiter
        limits = self._account(account_id).rate_limits
        own = limits.batch if batch else limits.single
        rate = limiter.rate if own is None else own.per_second
        burst = limiter.burst if own is None else own.burst
        return limiter, rate, burst

    def encrypt(
        self, account_id: str, token: object, *, deadline: float | None = None
    ) -> Encrypted:
        """Verify ``token`` (a JWS) for ``account_id`` and seal it, both steps waiting for
        Vault until ``deadline`` at most (by default :meth:`deadline`).

        Raises:
            TokenError: the token is refused (its code); ``VerificationUnavailable`` when
                Vault cannot be asked (in time) for what is not cached.
        """
        if deadline is None:
            deadline = self.deadline()
        self._verifier.verify_assertion(token, account_id=account_id, deadline=deadline)
        try:
            jwe, kid = self._sealer.seal_with_kid(account_id, str(token).strip(), deadline=deadline)
        except TokenError:
            raise
        except ServiceError as exc:
            raise VerificationUnavailable(f"cannot seal now ({exc.code}); retry later") from exc
        return Encrypted(token=jwe, kid=kid)

    def encrypt_batch(
        self, account_id: str, tokens: Sequence[object]
    ) -> list[Encrypted | ItemError]:
        """Encrypt each token independently: one refused token never affects the others.

        Raises:
            VerificationUnavailable: what every item needs (the account's key, Vault, its
                JWKS) cannot be had: the whole batch is answered 503, once, rather than
                each item waiting out a timeout.
            JwksRefused: the account's JWKS endpoint refuses (422, once for the batch).
        """
        try:
            self._sealer.latest_key(account_id)
        except ServiceError as exc:
            raise VerificationUnavailable(f"cannot seal now ({exc.code}); retry later") from exc
        results: list[Encrypted | ItemError] = []
        for token in tokens:
            try:
                results.append(self.encrypt(account_id, token))
            except (VerificationUnavailable, JwksRefused):
                raise  # every item would meet it: answered once, for the whole batch
            except TokenError as exc:
                results.append(ItemError(code=exc.code, detail=exc.detail))
        return results

    def check_ready(self) -> dict[str, str]:
        """Readiness: the authz JWKS must be usable (cached counts); Vault should answer,
        but while keys are cached an outage of Vault does not make us unready (the caches
        exist to ride it out, and a load balancer would otherwise drain every instance).

        Raises:
            JwksUnavailable; VaultError when Vault is down and nothing is cached.
        """
        self._bearers.check_jwks()
        try:
            self._keys.ping()
        except ServiceError:
            if not self._sealer.has_keys():
                raise
            return {"status": "ready", "vault": "unavailable, serving cached keys"}
        return {"status": "ready", "vault": "ok"}

    def account_jwks(
        self, account_id: str, client: str | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The account's live public encryption keys as a JWKS, latest first.

        Raises:
            RateLimited: ``client`` (an address) asked too often.
            AccountNotFound: unknown or disabled account (one answer for both).
            VerificationUnavailable: Vault cannot be asked and nothing is cached.
        """
        wait = self._jwks_limiter.acquire(client or "unknown")
        if wait is not None:
            limiter = self._jwks_limiter
            raise RateLimited(
                f"this address may fetch {limiter.rate:g} key sets/s (burst {limiter.burst})"
                f"{_scope(limiter)}; retry later",
                max(1, int(wait + 0.999)),
            )
        self._verifier.active_account(account_id)
        return self._jwks.get(account_id, lambda: self._load_jwks(account_id))

    def _load_jwks(self, account_id: str) -> dict[str, list[dict[str, Any]]]:
        keyset = self._keys.get(account_id)
        keys = [
            {
                **key.jwk().as_dict(private=False),
                "kid": key.kid,
                "use": "enc",
                "alg": ACCOUNT_JWKS_ALG,
            }
            for key in keyset.public_keys
            if key.version >= keyset.min_decryption_version
        ]
        return {"keys": keys}
