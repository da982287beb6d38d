"""Sealing: a customer's JWS becomes a compact JWE under the account's latest public key.

Encryption is local (joserfc): the public key comes from Transit, the CEK and the content
encryption never touch Vault. The header is ``RSA-OAEP-256`` / ``A256GCM`` (Transit's RSA
encryption is OAEP with SHA-256, so the player can unwrap the CEK with ``transit/decrypt``),
``cty: JWT`` for a nested JWT (RFC 7519 §5.2) and ``kid`` = ``<account>/<version>``.
"""

from __future__ import annotations

from collections.abc import Callable

from joserfc import jwe
from joserfc.jwk import RSAKey

from shared.accounts.keys import KeyStore, PublicKey
from shared.algorithms import TRANSIT_JWE_ALG, TRANSIT_JWE_ENC
from shared.errors import TokenInvalidFormat
from shared.settings import Settings
from shared.tokens.cache import TtlCache
from shared.tokens.compact import Limits, parse_compact

__all__ = ["Sealer", "seal"]

_ALGORITHMS = [TRANSIT_JWE_ALG, TRANSIT_JWE_ENC]


def seal(jws: str, key: PublicKey, limits: Limits = Limits(), *, jwk: RSAKey | None = None) -> str:
    """Encrypt the compact ``jws`` for ``key``'s account; returns a compact JWE.

    The JWS is format-checked (not signature-checked: callers that accept tokens from
    outside verify first) so that nothing but a JWS is ever sealed. ``jwk`` is ``key``
    already imported (the :class:`Sealer` keeps one per cached key).

    Raises:
        TokenEmpty, TokenInvalidFormat: ``jws`` is not a well-formed compact JWS, or the
            JWE would exceed the token size limit.
    """
    parsed = parse_compact(jws, limits)
    if parsed.is_jwe:
        raise TokenInvalidFormat("only a JWS can be sealed; this is already a JWE")
    header = {"alg": TRANSIT_JWE_ALG, "enc": TRANSIT_JWE_ENC, "kid": key.kid, "cty": "JWT"}
    sealed = jwe.encrypt_compact(
        header, parsed.text.encode("ascii"), jwk or key.jwk(), algorithms=_ALGORITHMS
    )
    if len(sealed) > limits.max_token_bytes:
        # Refuse now rather than hand out a JWE every verifier would refuse as too large.
        raise TokenInvalidFormat(
            f"this JWS ({len(parsed.text)} bytes) would make a {len(sealed)}-byte JWE, over the "
            f"{limits.max_token_bytes}-byte token limit; put less in the token"
        )
    return sealed


class Sealer:
    """Seals for any account with its latest public key, cached for ``settings.cache_ttl``.

    A rotation in Vault is picked up when the cache entry is refreshed (within the TTL
    plus the verification deadline); while Vault is down the cached key keeps sealing for
    up to ``settings.cache_stale_if_error``. A key never loaded is waited for until the
    caller's deadline at most (``settings.verification_deadline`` by default).
    """

    def __init__(self, keys: KeyStore, settings: Settings, limits: Limits = Limits()) -> None:
        self._keys = keys
        self._limits = limits
        # The key is cached imported: importing the PEM on every seal cost ~6 µs, and each
        # new joserfc key object takes a process-wide lock (functools.cached_property on
        # Python 3.11) that serialised every seal under load.
        self._cache: TtlCache[str, tuple[PublicKey, RSAKey]] = TtlCache(
            settings.cache_ttl,
            stale_if_error=settings.cache_stale_if_error,
            refresh_ahead=0.75,
            stale_while_revalidate=settings.verification_deadline,
            deadline=settings.verification_deadline,
        )

    def has_keys(self) -> bool:
        """True when at least one account's key is cached."""
        return len(self._cache) > 0

    def holds(self, account_id: str) -> bool:
        """Whether the account's key is at hand (cached, usable): sealing asks no Vault."""
        return self._cache.holds(account_id)

    def latest_key(self, account_id: str, *, deadline: float | None = None) -> PublicKey:
        """The account's current encryption key (cached); ``deadline`` bounds the wait
        for Vault when it is not (a :func:`time.monotonic` instant)."""
        return self._imported(account_id, deadline)[0]

    def prefetch(self, account_id: str) -> None:
        """Start reading the account's key now if it is not cached, without waiting: a
        caller about to read the account too makes both reads at once."""
        self._cache.prefetch(account_id, self._loader(account_id))

    def _loader(self, account_id: str) -> Callable[[], tuple[PublicKey, RSAKey]]:
        def load() -> tuple[PublicKey, RSAKey]:
            latest = self._keys.get(account_id).latest
            return latest, latest.jwk()

        return load

    def _imported(self, account_id: str, deadline: float | None) -> tuple[PublicKey, RSAKey]:
        return self._cache.get(account_id, self._loader(account_id), deadline=deadline)

    def seal(self, account_id: str, jws: str) -> str:
        """Seal ``jws`` for ``account_id``; see :func:`seal`."""
        return self.seal_with_kid(account_id, jws)[0]

    def seal_with_kid(
        self, account_id: str, jws: str, *, deadline: float | None = None
    ) -> tuple[str, str]:
        """Seal ``jws`` for ``account_id``; returns the JWE and the ``kid`` it names.
        ``deadline`` as for :meth:`latest_key`."""
        key, jwk = self._imported(account_id, deadline)
        return seal(jws, key, self._limits, jwk=jwk), key.kid
