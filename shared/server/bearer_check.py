"""Checking the Authorization API's bearers on the Crypto API (RFC 9068 §4).

The signature is checked against the authz JWKS (fetched and cached, refreshed on an
unknown ``kid`` by :class:`~shared.tokens.jwks.JwksFetcher`), then ``typ``, ``iss``, ``aud``,
``exp`` and the scope. The account is the bearer's ``sub``: never a field of the request.

A customer reuses its bearer for many calls (it lives 5 minutes), so a verified bearer is
remembered, by its SHA-256, until it expires: later calls skip the signature check.

Several issuers may be trusted (:class:`TrustedIssuer`): ours, and a Keycloak realm
(``CRYPTO_TRUSTED_ISSUERS``). Each has its own keys, algorithms and account claim; a bearer
is checked against the one its ``iss`` names (with a single issuer, that one, whatever
``iss`` says, so that its checks run in the same order as ever). Keycloak's bearers name
the account in ``azp`` (= ``client_id``), or, for those its broker client got by
exchanging a verified secure token, in ``preferred_username``
(:mod:`shared.keycloak._backend`).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

import msgspec
from joserfc import jws

from shared.accounts.document import check_account_id
from shared.errors import AccountInvalid, ServiceError, TokenError, TokenInvalidClaims
from shared.server.client_assertion import audience_matches
from shared.tokens.claims import numeric_date
from shared.tokens.compact import parse_compact
from shared.tokens.jwks import JwksFetcher
from shared.wire import ACCESS_TOKEN_TYPE, SCOPE_ENCRYPT

__all__ = [
    "Bearer",
    "BearerChecker",
    "BearerInvalid",
    "BearerMissing",
    "BearerScopeMissing",
    "TrustedIssuer",
]

_LEEWAY: Final = 30
#: More than any app's worker threads: callers of the operator's own JWKS are never capped.
_ALL_THREADS: Final = 1024
#: The longest bearer accepted (``exp - iat``): the Authorization API's own cap on
#: ``AUTHZ_TOKEN_LIFETIME``. A stolen bearer is useful until it expires, so one that claims
#: to live for years (``exp = 10**20``) is refused, whoever signed it.
MAX_BEARER_LIFETIME: Final = 3600
#: Keycloak names a client's service-account user ``service-account-<clientId>``
#: (``ServiceAccountConstants.SERVICE_ACCOUNT_USER_PREFIX``): never an account's user.
_SERVICE_ACCOUNT_PREFIX: Final = "service-account-"


class BearerInvalid(ServiceError):
    """No usable bearer: missing, malformed, expired, wrongly signed or not for us (401)."""

    code = "BEARER_INVALID"


class BearerMissing(BearerInvalid):
    """No bearer at all (401 without an error code, RFC 6750 §3.1)."""


class BearerScopeMissing(ServiceError):
    """A valid bearer without the scope this call needs (403)."""

    code = "INSUFFICIENT_SCOPE"


class TrustedIssuer(msgspec.Struct, frozen=True, kw_only=True):
    """An issuer whose bearers we accept, and how to read them."""

    #: The exact ``iss``.
    issuer: str
    #: Where its signing keys are (JWKS, fetched and cached).
    jwks_url: str
    #: The signature algorithms its bearers may use.
    algorithms: tuple[str, ...] = ("ES256",)
    #: ``sub``: ours (``sub`` = ``client_id`` = the account). ``azp``: Keycloak's
    #: (``azp`` = ``client_id`` = the account, or ``preferred_username`` for bearers of
    #: ``broker_client_id``).
    account_claim: Literal["sub", "azp"] = "sub"
    broker_client_id: str | None = None


def _account_id(value: object) -> str:
    try:
        return check_account_id(value) if isinstance(value, str) else ""
    except AccountInvalid:
        return ""


def _keycloak_account(claims: dict[str, Any], trusted: TrustedIssuer) -> str:
    azp = claims.get("azp")
    if trusted.broker_client_id is not None and azp == trusted.broker_client_id:
        # Exchanged by the Authorization API for a secure token it verified: the account
        # is the realm user the exchange resolved (a user, never a service account).
        username = claims.get("preferred_username")
        if "client_id" in claims or not isinstance(username, str):
            return ""
        if username.startswith(_SERVICE_ACCOUNT_PREFIX):
            return ""
        return _account_id(username)
    if claims.get("client_id", azp) != azp:
        return ""
    return _account_id(azp)


def _token(authorization: str | None) -> str | None:
    """The token of ``Bearer <token>`` (the scheme is case-insensitive, RFC 7235)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class Bearer(msgspec.Struct, frozen=True):
    """A verified bearer: whose it is, until when, with which scopes."""

    account_id: str
    expires_at: float
    scopes: frozenset[str]


class BearerChecker:
    """Verifies bearers; thread-safe.

    Args:
        jwks_url: the Authorization API's JWKS (None: its bearers are not accepted).
        issuer: the expected ``iss`` of its bearers.
        audience: our audience (``CRYPTO_AUDIENCE``).
        trusted: further issuers to accept (a Keycloak realm).

    Raises:
        ValueError: no issuer to trust at all.
    """

    def __init__(
        self,
        jwks_url: str | None,
        *,
        issuer: str | None,
        audience: str,
        fetcher: JwksFetcher | None = None,
        clock: Callable[[], float] = time.time,
        max_remembered: int = 10_000,
        trusted: Sequence[TrustedIssuer] = (),
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        builtin = [TrustedIssuer(issuer=issuer, jwks_url=jwks_url)] if jwks_url and issuer else []
        self.trusted: tuple[TrustedIssuer, ...] = (*builtin, *trusted)
        if not self.trusted:
            raise ValueError("a BearerChecker needs at least one issuer to trust")
        # The authz JWKS is ours: short refresh interval so a new signing key is seen fast;
        # its URL is the operator's, so internal addresses are fine.
        # No tenant to isolate from another here: every call needs these few JWKS, so a
        # fresh worker's first burst waits for the one shared fetch instead of meeting the
        # per-URL cap meant for customers' endpoints (it answered some of it 503).
        self._fetcher = fetcher or JwksFetcher(
            ttl=300.0,
            min_refresh_interval=5.0,
            public_only=False,
            max_blocked_per_uri=_ALL_THREADS,
            max_blocked_total=_ALL_THREADS,
        )
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
        token = _token(authorization)
        if token is None:
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

    def remembered(self, authorization: str | None, *, scope: str = SCOPE_ENCRYPT) -> Bearer | None:
        """What :meth:`check` would answer from what it remembers (a bearer verified before
        and unexpired), with no signature check and no JWKS fetch; None when it would have
        to verify.

        Raises:
            BearerScopeMissing: as :meth:`check`.
        """
        token = _token(authorization)
        if token is None:
            return None
        digest = hashlib.sha256(token.encode("utf-8", "replace")).digest()
        with self._lock:
            bearer = self._verified.get(digest)
        if bearer is None or self._clock() >= bearer.expires_at + _LEEWAY:
            return None
        if scope not in bearer.scopes:
            raise BearerScopeMissing(f"this call needs the scope {scope!r}")
        return bearer

    def check_jwks(self) -> None:
        """Raise :class:`JwksUnavailable` unless every trusted issuer's JWKS is available
        (readiness)."""
        for trusted in self.trusted:
            self._fetcher.available(trusted.jwks_url)

    def _trusted_for(self, claims: dict[str, Any]) -> TrustedIssuer:
        if len(self.trusted) == 1:
            return self.trusted[0]  # its own checks say whether iss is right
        for trusted in self.trusted:
            if claims.get("iss") == trusted.issuer:
                return trusted
        raise BearerInvalid("bearer from another issuer")

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
        claims = parsed.payload or {}
        trusted = self._trusted_for(claims)
        alg = header.get("alg")
        if alg not in trusted.algorithms or not header.get("kid"):
            raise BearerInvalid(f"bearers are {' or '.join(trusted.algorithms)} with a kid")
        # May raise JwksUnavailable.
        key = self._fetcher.key(trusted.jwks_url, header["kid"], alg)
        if key is None:
            raise BearerInvalid("bearer signed by an unknown key")
        try:
            jws.deserialize_compact(parsed.text, key, algorithms=[alg])
        except Exception as exc:
            raise BearerInvalid("bearer signature does not verify") from exc
        if claims.get("iss") != trusted.issuer:
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
        try:
            iat, nbf = numeric_date(claims, "iat"), numeric_date(claims, "nbf")
        except TokenInvalidClaims as exc:
            raise BearerInvalid(f"bearer with a malformed time claim: {exc.detail}") from exc
        if iat is None:
            raise BearerInvalid("bearer without 'iat' (RFC 9068 §2.2 requires it)")
        if iat > now + _LEEWAY or (nbf is not None and nbf > now + _LEEWAY):
            raise BearerInvalid("bearer not valid yet ('iat' or 'nbf' in the future)")
        if exp - iat > MAX_BEARER_LIFETIME:
            raise BearerInvalid(
                f"bearer lives {int(exp - iat)} s: at most {MAX_BEARER_LIFETIME} s is accepted"
            )
        if trusted.account_claim == "azp":
            account_id = _keycloak_account(claims, trusted)
            if not account_id:
                raise BearerInvalid("bearer without a valid account (azp, client_id)")
        else:
            sub = claims.get("sub")
            account_id = _account_id(sub)
            if not account_id or claims.get("client_id", sub) != sub:
                raise BearerInvalid("bearer without a valid sub")
        scope = claims.get("scope")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        return Bearer(account_id=account_id, expires_at=exp, scopes=scopes)
