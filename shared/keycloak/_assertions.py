"""The Authorization API's own JWTs for Keycloak, signed in Vault.

Two per exchange of a verified secure token, signed together in one Transit call with the
key that signs our bearers (``authz-signing``, ES256; its public keys are our JWKS):

- the **authorization grant** (RFC 7523 §2.1): ``iss`` = our issuer, ``sub`` = the account,
  ``aud`` = the realm; Keycloak's identity provider for us checks it against our JWKS;
- the **client assertion** (RFC 7523 §2.2, ``private_key_jwt``) of the realm's broker
  client, whose ``jwks.url`` is our JWKS as well.

Both live 60 s and carry a fresh ``jti``: Keycloak keeps each single-use.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any, Final

from joserfc.util import urlsafe_b64encode

from shared.server.bearer_issuer import SigningKey
from shared.vault import Vault
from shared.vault.layout import AUTHZ_SIGNING_KEY

__all__ = ["AssertionSigner"]

LIFETIME: Final = 60


def _b64json(data: dict[str, Any]) -> bytes:
    return urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())


class AssertionSigner:
    """Signs short-lived JWTs with ``authz-signing``'s newest version.

    Args:
        vault: a Vault facade allowed to sign with ``authz-signing``.
        keys: the signing key versions, newest first
            (:meth:`shared.server.bearer_issuer.BearerIssuer.signing_keys`, cached there).
    """

    def __init__(
        self,
        vault: Vault,
        keys: Callable[[], tuple[SigningKey, ...]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._vault = vault
        self._keys = keys
        self._clock = clock

    def sign(self, *claim_sets: dict[str, Any]) -> list[str]:
        """Compact JWSs of ``claim_sets``, each completed with ``iat``, ``exp`` and ``jti``.

        Raises:
            VaultError: Transit could not sign.
        """
        key = self._keys()[0]
        now = int(self._clock())
        header = _b64json({"alg": "ES256", "typ": "JWT", "kid": key.kid})
        inputs = [
            header
            + b"."
            + _b64json(
                {**claims, "iat": now, "exp": now + LIFETIME, "jti": secrets.token_urlsafe(16)}
            )
            for claims in claim_sets
        ]
        signatures = self._vault.transit_sign_jws(AUTHZ_SIGNING_KEY, inputs, key.version)
        return [f"{i.decode('ascii')}.{s}" for i, s in zip(inputs, signatures, strict=True)]
