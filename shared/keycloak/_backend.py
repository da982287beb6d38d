"""Keycloak as the Authorization API's issuer (``AUTHZ_BACKEND=keycloak``).

The ``/oauth/token`` contract does not change; TokenService runs the same checks first
(the account exists and is active; the secure token or the client assertion verifies with
the account's method; rate limits; our replay store), then asks this backend for the
bearer instead of signing one itself:

``client_credentials`` with a client assertion
    The customer's assertion is **passed through** to the realm's token endpoint with
    python-keycloak (``client_id`` = the account). Keycloak checks it again against the
    client we provisioned (signature, ``aud``, ``exp``, its own ``jti`` cache) and issues a
    token of that client: ``azp`` = ``client_id`` = the account. For Keycloak to accept it,
    the assertion's ``aud`` names the realm (its issuer or token endpoint), not us.

``jwt-bearer`` with a secure token
    Keycloak cannot check a secure token (participant claims, per-account methods), and it
    issues a token of the account's client only to whoever holds that client's credential,
    which is the customer's. So once we have verified the secure token, we use Keycloak's
    **JWT Authorization Grant** (RFC 7523 §2.1; a *preview* feature in Keycloak 26.5,
    started with ``--features=jwt-authorization-grant``): the realm's broker client
    (authenticated by a ``private_key_jwt`` we sign in Vault) presents an assertion we sign
    in Vault saying ``sub`` = the account; Keycloak's identity provider for our issuer
    checks it against our JWKS and maps it to the account's user (provisioned and linked by
    ``tokenctl accounts … --keycloak``). The token's ``azp`` is the broker client and its
    ``preferred_username`` the account; the Crypto API reads it so
    (:mod:`shared.keycloak._trust`).

Errors: Keycloak unreachable → :class:`KeycloakUnavailable` (TokenService answers 503);
Keycloak refusing a passed-through assertion → the same ``invalid_client`` refusals as
the built-in issuer; Keycloak refusing our exchange, or issuing a bearer the Crypto API
would refuse → 503 ``KEYCLOAK_REFUSED`` / ``KEYCLOAK_MISCONFIGURED`` (not the customer's
fault, and a retry will not help until the operator fixes the realm).
"""

from __future__ import annotations

from typing import Final

from shared.errors import TokenError
from shared.keycloak._assertions import AssertionSigner
from shared.keycloak._client import TokenClient
from shared.keycloak._errors import KeycloakRefused
from shared.keycloak._realm import KeycloakRealm
from shared.server.bearer_issuer import IssuedBearer
from shared.server.client_assertion import audience_matches
from shared.server.oauth_error import OAuthError
from shared.tokens.compact import parse_compact
from shared.wire import ACCESS_TOKEN_TYPE, CLIENT_ASSERTION_TYPE, JWT_BEARER, RETRY_AFTER

__all__ = ["KeycloakBackend"]

_UNKNOWN_CLIENT: Final = "unknown or disabled client_id"


def _code_for(description: str) -> str:
    """Our token code for Keycloak's reason to refuse a client assertion
    (``AbstractBaseJWTValidator`` / ``JWTClientAuthenticator`` messages)."""
    text = description.lower()
    if "not active" in text or "too far in the past" in text:
        return "TOKEN_EXPIRED"
    if "signature" in text or "public key" in text or "algorithm" in text:
        return "TOKEN_INVALID_SIGNATURE"
    return "TOKEN_INVALID_CLAIMS"


def _passed_through_refusal(exc: KeycloakRefused) -> OAuthError:
    if exc.error == "invalid_scope":
        return OAuthError("invalid_scope", "the identity backend refused the scope")
    description = exc.description or exc.error or "refused"
    if "invalid client or invalid client credentials" in description.lower():
        # Keycloak's words for an unknown or disabled client (AuthenticationProcessor).
        return OAuthError("invalid_client", _UNKNOWN_CLIENT)
    if "reuse" in description.lower():
        return OAuthError(
            "invalid_client",
            "this client assertion was used already: make a new one (new jti) per request",
            code="TOKEN_INVALID_CLAIMS",
        )
    return OAuthError(
        "invalid_client",
        f"the client assertion was refused: {description}",
        code=_code_for(description),
    )


def _misconfigured(what: str) -> OAuthError:
    return OAuthError(
        "temporarily_unavailable",
        f"the identity backend {what}; the operator must fix the realm "
        "(tokenctl accounts show ID --keycloak; tokenctl keycloak check)",
        code="KEYCLOAK_MISCONFIGURED",
        retry_after=RETRY_AFTER,
    )


class KeycloakBackend:
    """Gets bearers from a Keycloak realm; thread-safe, blocking (HTTP, Vault).

    Args:
        realm: the realm.
        signer: signs our assertions in Vault.
        authz_issuer: our issuer (the ``iss`` the realm's identity provider expects).
        audience: the Crypto API's audience, checked in what Keycloak issues.
        tokens: the token endpoint client (tests share one).
    """

    name: Final = "keycloak"

    def __init__(
        self,
        realm: KeycloakRealm,
        signer: AssertionSigner,
        *,
        authz_issuer: str,
        audience: str,
        tokens: TokenClient | None = None,
    ) -> None:
        self.realm = realm
        self._signer = signer
        self._issuer = authz_issuer
        self._audience = audience
        self._tokens = tokens or TokenClient(realm)
        #: Keycloak checks client assertions' ``aud`` itself: the realm, not us.
        self.assertion_audiences = realm.assertion_audiences

    def issue(
        self, account_id: str, scope: str, *, client_assertion: str | None = None
    ) -> IssuedBearer:
        """A Keycloak bearer for ``account_id``, verified by the caller already.

        Raises:
            KeycloakUnavailable: Keycloak cannot be reached (the caller answers 503).
            VaultError: our assertions could not be signed.
            OAuthError: Keycloak refused.
        """
        if client_assertion is not None:
            try:
                answer = self._tokens.token(
                    "client_credentials",
                    client_id=account_id,
                    client_assertion_type=CLIENT_ASSERTION_TYPE,
                    client_assertion=client_assertion,
                )
            except KeycloakRefused as exc:
                raise _passed_through_refusal(exc) from exc
        else:
            grant, client = self._signer.sign(
                {"iss": self._issuer, "sub": account_id, "aud": self.realm.issuer},
                {
                    "iss": self.realm.broker_client_id,
                    "sub": self.realm.broker_client_id,
                    "aud": self.realm.token_endpoint,
                },
            )
            try:
                answer = self._tokens.token(
                    JWT_BEARER,
                    assertion=grant,
                    client_id=self.realm.broker_client_id,
                    client_assertion_type=CLIENT_ASSERTION_TYPE,
                    client_assertion=client,
                )
            except KeycloakRefused as exc:
                raise _misconfigured(
                    f"refused to exchange for this account ({exc.detail})"
                ) from exc
        return self._issued(answer, scope)

    def _issued(self, answer: dict[str, object], scope: str) -> IssuedBearer:
        """Our token response for Keycloak's, after checking the bearer would pass the
        Crypto API (audience, scope): a realm set up wrong must not hand out bearers
        that are refused one call later."""
        token = str(answer["access_token"])
        try:
            parsed = parse_compact(token)
        except TokenError as exc:
            raise _misconfigured("issued a bearer that is not a JWS") from exc
        claims = parsed.payload or {}
        if str(parsed.header.get("typ", "")).lower() != ACCESS_TOKEN_TYPE:
            raise _misconfigured(
                "issued a bearer that is not an RFC 9068 access token (the client's "
                "access.token.header.type.rfc9068 is off)"
            )
        if not audience_matches(claims, (self._audience,), required=True):
            raise _misconfigured(f"issued a bearer without the audience {self._audience!r}")
        granted = claims.get("scope")
        if not isinstance(granted, str) or scope not in granted.split():
            raise _misconfigured(f"issued a bearer without the scope {scope!r}")
        expires_in = answer.get("expires_in")
        return IssuedBearer(
            access_token=token,
            expires_in=expires_in if isinstance(expires_in, int) else 0,
            scope=scope,
            jti=str(claims.get("jti", "")),
            kid=str(parsed.header.get("kid", "")),
        )
