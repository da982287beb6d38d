"""Bearer tokens of the Authorization API: RFC 9068 JWT access tokens signed in Vault.

The signing key (Transit ``authz-signing``, ECDSA P-256) never leaves Vault: we build the
JWS signing input, Transit signs it (``marshaling_algorithm=jws`` gives ES256's raw
``r || s``), and we append the signature. Each key version is published in the JWKS under
its RFC 7638 thumbprint as ``kid``.

Rotation: new bearers use the newest version (as soon as the cached key metadata is
refreshed, within ``cache_ttl``); an older version stays in the JWKS until every bearer it
can have signed has expired: ``lifetime + cache_ttl`` (+ leeway) after the next version
appeared.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import msgspec
from joserfc.jwk import ECKey
from joserfc.util import urlsafe_b64encode

from shared.server.batch_signer import BatchSigner
from shared.tokens.cache import TtlCache
from shared.vault import Vault
from shared.vault.layout import AUTHZ_SIGNING_KEY
from shared.wire import ACCESS_TOKEN_TYPE, SCOPE_ENCRYPT

__all__ = ["BearerIssuer", "IssuedBearer", "SigningKey"]

#: Clock skew allowed to verifiers of our bearers, for JWKS retention.
_LEEWAY: Final = 60


class SigningKey(msgspec.Struct, frozen=True):
    """One version of ``authz-signing``'s public key."""

    version: int
    kid: str
    jwk: dict[str, Any]
    created_at: float | None
    #: When the next version was created (None for the latest, or when unknown).
    superseded_at: float | None


class IssuedBearer(msgspec.Struct, frozen=True):
    """An access token and what the token response says about it."""

    access_token: str
    expires_in: int
    scope: str
    jti: str
    kid: str


def _timestamp(value: object) -> float | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None  # unknown: such a key is kept in the JWKS rather than dropped


def _b64json(data: dict[str, Any]) -> bytes:
    return urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())


class BearerIssuer:
    """Issues bearers for accounts and publishes the keys that verify them.

    Args:
        vault: a Vault facade allowed to read and sign with ``authz-signing``.
        issuer: the ``iss`` (the Authorization API's public base URL).
        audience: the ``aud`` (the Crypto API's audience).
        lifetime: seconds a bearer is valid (``expires_in``).
        cache_ttl: seconds the signing key metadata is trusted before a refresh.
    """

    def __init__(
        self,
        vault: Vault,
        *,
        issuer: str,
        audience: str,
        lifetime: int = 300,
        cache_ttl: float = 30.0,
        stale_if_error: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._vault = vault
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        #: How long after a rotation an older key may still sign (an instance uses its
        #: cached key metadata for up to cache_ttl) and its bearers live: it stays in the
        #: JWKS that long, plus the verifiers' clock leeway.
        #: (An expired entry is still used while it is refreshed: that window counts too.)
        revalidate = vault.settings.verification_deadline
        self._retention = lifetime + cache_ttl + revalidate + _LEEWAY
        self._clock = clock
        self._cache: TtlCache[str, tuple[SigningKey, ...]] = TtlCache(
            cache_ttl,
            stale_if_error=stale_if_error,
            refresh_ahead=0.75,
            stale_while_revalidate=revalidate,
            deadline=revalidate,
        )
        self._signer = BatchSigner(
            vault, AUTHZ_SIGNING_KEY, timeout=vault.settings.vault_timeout * 2
        )

    def signing_keys(self, *, fresh: bool = False) -> tuple[SigningKey, ...]:
        """Every live version of the signing key, newest first (cached unless ``fresh``:
        readiness checks and tests ask Vault now).

        Raises:
            VaultError: Vault unreachable, sealed or refusing.
        """
        if fresh:  # read Vault now; on failure the cached keys stay usable
            keys = self._load()
            self._cache.put(AUTHZ_SIGNING_KEY, keys)
            return keys
        return self._cache.get(AUTHZ_SIGNING_KEY, self._load)

    def _load(self) -> tuple[SigningKey, ...]:
        data = self._vault.transit_read_key(AUTHZ_SIGNING_KEY)
        versions = {int(v): info for v, info in dict(data.get("keys") or {}).items()}
        created = {v: _timestamp(info.get("creation_time")) for v, info in versions.items()}
        keys = []
        for version in sorted(versions, reverse=True):
            public = ECKey.import_key(str(versions[version]["public_key"]).encode())
            kid = public.thumbprint()
            jwk = {**public.as_dict(private=False), "kid": kid, "use": "sig", "alg": "ES256"}
            keys.append(
                SigningKey(
                    version=version,
                    kid=kid,
                    jwk=jwk,
                    created_at=created[version],
                    superseded_at=created.get(version + 1),
                )
            )
        return tuple(keys)

    def signer_healthy(self) -> bool:
        """False if the signing threads have died (readiness reports it)."""
        return self._signer.healthy()

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWKS document: the latest key and every older one that may still have
        unexpired bearers."""
        now = self._clock()
        keep = [
            k.jwk
            for k in self.signing_keys()
            if k.superseded_at is None or k.superseded_at + self._retention > now
        ]
        return {"keys": keep}

    def issue(self, account_id: str, scope: str = SCOPE_ENCRYPT) -> IssuedBearer:
        """Sign a bearer for ``account_id`` with the newest key version.

        Raises:
            VaultError: Vault could not sign (unreachable, sealed, refusing).
        """
        key, signing_input, jti = self._unsigned(account_id, scope)
        signature = self._signer.sign(signing_input, key.version)
        return self._signed(key, signing_input, signature, jti, scope)

    async def issue_async(self, account_id: str, scope: str = SCOPE_ENCRYPT) -> IssuedBearer:
        """:meth:`issue` for the event loop, once :meth:`holds_keys`: only Transit's
        signature is awaited (batched with the others, by the signer threads).

        Raises:
            VaultError: as :meth:`issue`.
        """
        if not self.holds_keys():  # expired while the caller awaited: read off the loop
            await asyncio.to_thread(self.signing_keys)
        key, signing_input, jti = self._unsigned(account_id, scope)
        signature = await self._signer.sign_async(signing_input, key.version)
        return self._signed(key, signing_input, signature, jti, scope)

    def holds_keys(self) -> bool:
        """Whether the signing key's versions are at hand (cached, usable): no Vault read."""
        return self._cache.holds(AUTHZ_SIGNING_KEY)

    def _unsigned(self, account_id: str, scope: str) -> tuple[SigningKey, bytes, str]:
        key = self.signing_keys()[0]
        now = int(self._clock())
        jti = secrets.token_urlsafe(16)
        header = {"alg": "ES256", "typ": ACCESS_TOKEN_TYPE, "kid": key.kid}
        claims = {
            "iss": self.issuer,
            "sub": account_id,
            "client_id": account_id,
            "aud": self.audience,
            "scope": scope,
            "iat": now,
            "exp": now + self.lifetime,
            "jti": jti,
        }
        return key, _b64json(header) + b"." + _b64json(claims), jti

    def _signed(
        self, key: SigningKey, signing_input: bytes, signature: str, jti: str, scope: str
    ) -> IssuedBearer:
        return IssuedBearer(
            access_token=f"{signing_input.decode('ascii')}.{signature}",
            expires_in=self.lifetime,
            scope=scope,
            jti=jti,
            kid=key.kid,
        )
