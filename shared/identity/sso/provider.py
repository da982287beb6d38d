"""An account's identity provider: its endpoints (discovery, or the settings one by one) and
its keys (JWKS), both cached; and the check of the JWTs it signs (ID tokens, JWT access
tokens) with joserfc.

Discovery is OpenID Connect's (``/.well-known/openid-configuration``), else RFC 8414's; the
document must name the configured issuer exactly (OpenID Connect Discovery §4.3: a document
for another issuer is a mix-up). A cached document or key set is served stale when the IdP
cannot be reached, so a short outage does not stop sign-ins already possible.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from shared.algorithms import EC_ALGS, RSA_ALGS
from shared.identity.errors import PlayerSettingsInvalid, SsoFailed, SsoUnavailable
from shared.identity.player_settings import SsoSettings, check_service_url
from shared.identity.sso.http import IdpHttp

__all__ = ["JWT_ALGORITHMS", "ProviderMetadata", "Providers"]

#: What an IdP may sign with: asymmetric only (never ``none``, never HMAC with a public key).
JWT_ALGORITHMS: Final = (*RSA_ALGS, "PS256", "PS384", "PS512", *EC_ALGS, "EdDSA")
#: Clock skew allowed on ``exp``, ``iat`` and ``nbf``.
LEEWAY: Final = 60
_ENDPOINTS: Final = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")


class ProviderMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """Where the IdP is, and whether it always names itself in its answers (RFC 9207)."""

    issuer: str | None
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str | None = None
    jwks_uri: str | None = None
    iss_parameter: bool = False


def _well_known(issuer: str) -> list[str]:
    parts = urlsplit(issuer)
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    return [
        f"{base}{path}/.well-known/openid-configuration",
        f"{base}/.well-known/oauth-authorization-server{path}",
    ]


def _endpoint(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SsoFailed(f"the identity provider's {name} is not a URL")
    try:
        return check_service_url(value, name)
    except PlayerSettingsInvalid as exc:
        # The settings were checked on write; a discovered endpoint is checked here.
        raise SsoFailed(f"the identity provider's {exc.detail}") from None


class Providers:
    """Identity providers' metadata and keys (one per process, shared by every account).

    Args:
        http: the bounded HTTP client.
        ttl: seconds a discovery document is used before it is read again.
        jwks_ttl: seconds a key set is used before it is read again (and an unknown ``kid``
            reads it at once, at most every ``jwks_min_interval`` seconds).
    """

    def __init__(
        self,
        http: IdpHttp,
        *,
        ttl: float = 3600.0,
        jwks_ttl: float = 300.0,
        jwks_min_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._ttl = ttl
        self._jwks_ttl = jwks_ttl
        self._jwks_min_interval = jwks_min_interval
        self._clock = clock
        self._wall_clock = wall_clock
        self._documents: dict[str, tuple[float, dict[str, Any]]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}

    async def metadata(self, sso: SsoSettings) -> ProviderMetadata:
        """The IdP's endpoints: discovered from ``sso.issuer``, each overridden by the one
        the settings give.

        Raises:
            SsoUnavailable: discovery cannot be read (nothing cached).
            SsoFailed: the document is not for this issuer, lacks an endpoint, or is bad.
        """
        document: Mapping[str, Any] = {}
        if sso.issuer is not None:
            document = await self._document(sso.issuer)
        found = {name: getattr(sso, name) or _endpoint(document, name) for name in _ENDPOINTS}
        authorize, token = found["authorization_endpoint"], found["token_endpoint"]
        if authorize is None or token is None:
            raise SsoFailed("the identity provider names no authorization or token endpoint")
        return ProviderMetadata(
            issuer=sso.issuer,
            authorization_endpoint=authorize,
            token_endpoint=token,
            userinfo_endpoint=found["userinfo_endpoint"],
            jwks_uri=found["jwks_uri"],
            iss_parameter=document.get("authorization_response_iss_parameter_supported") is True,
        )

    async def _document(self, issuer: str) -> dict[str, Any]:
        cached = self._documents.get(issuer)
        now = self._clock()
        if cached is not None and now < cached[0]:
            return cached[1]
        try:
            document = await self._discover(issuer)
        except SsoUnavailable:
            if cached is not None:
                return cached[1]  # stale, while the IdP is away
            raise
        self._documents[issuer] = (now + self._ttl, document)
        return document

    async def _discover(self, issuer: str) -> dict[str, Any]:
        openid, oauth = _well_known(issuer)
        try:
            document = await self._http.get_json(openid, what="discovery document")
        except SsoUnavailable:
            raise
        except SsoFailed:
            document = await self._http.get_json(oauth, what="discovery document")
        if not isinstance(document, dict):
            raise SsoFailed("the identity provider's discovery document is not an object")
        if document.get("issuer") != issuer:
            raise SsoFailed("the identity provider's discovery document names another issuer")
        return document

    async def _key_set(self, jwks_uri: str, *, refresh: bool) -> KeySet:
        cached = self._keys.get(jwks_uri)
        now = self._clock()
        if cached is not None:
            fetched, keys = cached
            fresh = now < fetched + self._jwks_ttl
            if (fresh and not refresh) or (refresh and now < fetched + self._jwks_min_interval):
                return keys
        try:
            document = await self._http.get_json(jwks_uri, what="JWKS")
        except SsoUnavailable:
            if cached is not None:
                return cached[1]
            raise
        keys = _import_keys(document)
        self._keys[jwks_uri] = (now, keys)
        return keys

    async def verify_jwt(
        self,
        token: str,
        metadata: ProviderMetadata,
        *,
        audience: str,
        what: str,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """The claims of ``token`` once its signature (the IdP's JWKS, a pinned asymmetric
        algorithm), ``iss``, ``aud`` (with ``azp`` when there are several), ``exp``,
        ``sub`` and, for an ID token, ``nonce`` are checked.

        Raises:
            SsoFailed: any of them is wrong (``what`` names the token).
            SsoUnavailable: the JWKS cannot be read.
        """
        if metadata.jwks_uri is None:
            raise SsoFailed(f"the identity provider names no JWKS to check its {what} with")
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, UnicodeError):
            raise SsoFailed(f"the identity provider's {what} is not a signed JWT") from None
        kid = header.get("kid")
        keys = await self._key_set(metadata.jwks_uri, refresh=False)
        if isinstance(kid, str) and not any(key.kid == kid for key in keys):
            keys = await self._key_set(metadata.jwks_uri, refresh=True)  # rotated keys
        try:
            decoded = jwt.decode(token, keys, algorithms=list(JWT_ALGORITHMS))
        except (JoseError, ValueError) as exc:
            raise SsoFailed(f"the identity provider's {what} does not verify: {exc}") from None
        claims = decoded.claims
        options: dict[str, Any] = {
            "aud": {"essential": True, "value": audience},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }
        if metadata.issuer is not None:
            options["iss"] = {"essential": True, "value": metadata.issuer}
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        try:
            registry = jwt.JWTClaimsRegistry(now=int(self._wall_clock()), leeway=LEEWAY, **options)
            registry.validate(claims)
        except JoseError as exc:
            raise SsoFailed(f"the identity provider's {what} is refused: {exc}") from None
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != audience:
            raise SsoFailed(f"the identity provider's {what} is for several parties, not us")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise SsoFailed(f"the identity provider's {what} has no subject")
        return dict(claims)


def _import_keys(document: object) -> KeySet:
    """The JWKS's public signing keys (a symmetric or an encryption key is left out)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise SsoFailed("the identity provider's JWKS is not a key set")
    usable = [
        key
        for key in document["keys"]
        if isinstance(key, dict)
        and key.get("kty") in ("RSA", "EC", "OKP")
        and key.get("use", "sig") == "sig"
        and "d" not in key
    ]
    try:
        return KeySet.import_key_set({"keys": usable})
    except (JoseError, ValueError, TypeError) as exc:
        raise SsoFailed(f"the identity provider's JWKS cannot be read: {exc}") from None
