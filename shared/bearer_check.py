"""Checking the Authorization API's bearers on the Crypto API (RFC 9068 §4).

The signature is checked against the authz JWKS (fetched and cached, refreshed on an
unknown ``kid`` by :class:`~shared.jwks.JwksFetcher`), then ``typ``, ``iss``, ``aud``,
``exp`` and the scope. The account is the bearer's ``sub``: never a field of the request.

A customer reuses its bearer for many calls (it lives 5 minutes), so a verified bearer is
remembered, by its SHA-256, until it expires: later calls skip the signature check.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

import msgspec
from joserfc import jws

from shared.accounts import check_account_id
from shared.bearer import ACCESS_TOKEN_TYPE, SCOPE_ENCRYPT
from shared.claims import numeric_date
from shared.client_assertion import audience_matches
from shared.compact import parse_compact
from shared.errors import AccountInvalid, ServiceError, TokenError, TokenInvalidClaims
from shared.jwks import JwksFetcher

__all__ = ["Bearer", "BearerChecker", "BearerInvalid", "BearerMissing", "BearerScopeMissing"]

_LEEWAY: Final = 30


class BearerInvalid(ServiceError):
    """No usable bearer: missing, malformed, expired, wrongly signed or not for us (401)."""

    code = "BEARER_INVALID"


class BearerMissing(BearerInvalid):
    """No bearer at all (401 without an error code, RFC 6750 §3.1)."""


class BearerScopeMissing(ServiceError):
    """A valid bearer without the scope this call needs (403)."""

    code = "INSUFFICIENT_SCOPE"


class Bearer(msgspec.Struct, frozen=True):
    """A verified bearer: whose it is, until when, with which scopes."""

    account_id: str
    expires_at: float
    scopes: frozenset[str]


class BearerChecker:
    """Verifies bearers; thread-safe.

    Args:
        jwks_url: the Authorization API's JWKS.
        issuer: the expected ``iss``.
        audience: our audience (``CRYPTO_AUDIENCE``).
    """

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        fetcher: JwksFetcher | None = None,
        clock: Callable[[], float] = time.time,
        max_remembered: int = 10_000,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        # The authz JWKS is ours: short refresh interval so a new signing key is seen fast.
        self._fetcher = fetcher or JwksFetcher(ttl=300.0, min_refresh_interval=5.0)
        self._clock = clock
        self._max = max_remembered
        self._verified: OrderedDict[bytes, Bearer] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, authorization: str | None, *, scope: str = SCOPE_ENCRYPT) -> Bearer:
        """The bearer of an ``Authorization`` header value, verified, with ``scope``.

        Raises:
            BearerInvalid: 401.
            BearerScopeMissing: 403.
            JwksUnavailable: the authz JWKS cannot be fetched and nothing is cached (503).
        """
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:  # the scheme is case-insensitive (RFC 7235)
            raise BearerMissing("send 'Authorization: Bearer <access token>' (RFC 6750)")
        digest = hashlib.sha256(token.encode("utf-8", "replace")).digest()
        now = self._clock()
        with self._lock:
            bearer = self._verified.get(digest)
        if bearer is None or now >= bearer.expires_at + _LEEWAY:
            bearer = self._verify(token, now)
            with self._lock:
                self._verified[digest] = bearer
                while len(self._verified) > self._max:
                    self._verified.popitem(last=False)
        if scope not in bearer.scopes:
            raise BearerScopeMissing(f"this call needs the scope {scope!r}")
        return bearer

    def check_jwks(self) -> None:
        """Raise :class:`JwksUnavailable` unless the authz JWKS is available (readiness)."""
        self._fetcher.available(self.jwks_url)

    def _verify(self, token: str, now: float) -> Bearer:
        try:
            parsed = parse_compact(token)
        except TokenError as exc:
            raise BearerInvalid(f"malformed bearer: {exc.detail}") from exc
        header = parsed.header
        if parsed.is_jwe or str(header.get("typ", "")).lower() not in (
            ACCESS_TOKEN_TYPE,
            f"application/{ACCESS_TOKEN_TYPE}",
        ):
            raise BearerInvalid("not an RFC 9068 access token (typ at+jwt)")
        if header.get("alg") != "ES256" or not header.get("kid"):
            raise BearerInvalid("bearers are ES256 with a kid")
        key = self._fetcher.key(self.jwks_url, header["kid"], "ES256")  # may raise JwksUnavailable
        if key is None:
            raise BearerInvalid("bearer signed by an unknown key")
        try:
            jws.deserialize_compact(parsed.text, key, algorithms=["ES256"])
        except Exception as exc:
            raise BearerInvalid("bearer signature does not verify") from exc
        claims = parsed.payload or {}
        if claims.get("iss") != self.issuer:
            raise BearerInvalid("bearer from another issuer")
        if not audience_matches(claims, (self.audience,), required=True):
            raise BearerInvalid("bearer for another audience")
        try:
            # A finite NumericDate only: 10**400 would overflow and 1e400 (inf) never expire.
            exp = numeric_date(claims, "exp")
        except TokenInvalidClaims:
            exp = None
        if exp is None or now >= exp + _LEEWAY:
            raise BearerInvalid("bearer expired: get a new one from the Authorization API")
        sub = claims.get("sub")
        try:
            account_id = check_account_id(sub) if isinstance(sub, str) else ""
        except AccountInvalid:
            account_id = ""
        if not account_id or claims.get("client_id", sub) != sub:
            raise BearerInvalid("bearer without a valid sub")
        scope = claims.get("scope")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        return Bearer(account_id=account_id, expires_at=exp, scopes=scopes)
