"""Signing a row's claims into the JWS the customer's backend would have made."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

__all__ = ["RowSigner"]


class RowSigner:
    """Signs a row's claims into a JWS, as the customer's backend would.

    ``expires_in`` sets ``exp`` (and ``iat`` if absent) from now for rows without ``exp``;
    ``campaign_id`` sets ``campaignId`` for rows without one.
    """

    def __init__(
        self,
        key: RSAKey | ECKey | OctKey,
        alg: str,
        *,
        kid: str | None = None,
        expires_in: int | None = None,
        campaign_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._alg = alg
        self._header: dict[str, Any] = {"alg": alg, **({"kid": kid} if kid else {})}
        self._expires_in = expires_in
        self._campaign_id = campaign_id
        self._clock = clock

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS of ``claims`` (plus the defaults above)."""
        claims = dict(claims)
        if self._campaign_id is not None:
            claims.setdefault("campaignId", self._campaign_id)
        if self._expires_in is not None and "exp" not in claims:
            now = int(self._clock())
            claims.setdefault("iat", now)
            claims["exp"] = now + self._expires_in
        return jwt.encode(self._header, claims, self._key, algorithms=[self._alg])
