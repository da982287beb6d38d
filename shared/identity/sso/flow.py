"""Single sign-on with the account's identity provider (DESIGN §11, channel 3): the player is
an OAuth 2.0 / OpenID Connect client (Authorization Code, PKCE S256, RFC 9700).

:meth:`SsoClient.begin` makes the authorization URL (Authlib) and keeps the flow's secrets
in Redis under a hash of ``state`` (random, single-use, 10 minutes), bound to the browser
by a cookie value whose hash it stores: any worker can finish the flow, and a ``state``
coming back in another browser, or a second time, is refused. :meth:`SsoClient.pending`
spends the ``state``; :meth:`SsoClient.sign_in` checks ``iss`` (RFC 9207), redeems the
code with the configured client authentication (Authlib), verifies the ID token (joserfc)
and reads the profile from the configured source.

Authlib's ``client_secret_basic`` puts the id and secret in the header as they are; RFC
6749 §2.3.1 wants each form-encoded first (an id or a secret with ``:``, ``%`` or ``+``
would be misread by a conforming IdP): :func:`_basic_form_encoded` replaces it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
import warnings
from collections.abc import Mapping
from typing import Any, Final, TypeVar
from urllib.parse import quote_plus

import anyio
import httpx
import msgspec
import redis.asyncio
from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
from redis.exceptions import RedisError

from shared.errors import ServiceError
from shared.identity.errors import (
    CampaignNotFound,
    SsoDenied,
    SsoFailed,
    SsoIssuerMismatch,
    SsoStateInvalid,
    SsoUnavailable,
)
from shared.identity.identification import Identification, ServedCampaign, sso_identification
from shared.identity.player_secrets import PlayerSecretsStore
from shared.identity.player_settings import SsoSettings
from shared.identity.sso.http import IdpHttp, TooLarge, check_status
from shared.identity.sso.provider import ProviderMetadata, Providers
from shared.settings import Settings
from shared.state import async_redis_client
from shared.vault import Vault

with warnings.catch_warnings():
    # Authlib 1.9 prefers the httpx2 fork and warns (once, at import) that plain httpx, the
    # project's HTTP client, which it still fully supports, is deprecated.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
    )

__all__ = ["RESULT_PATTERN", "STATE_TTL", "PendingSignIn", "SsoClient", "SsoStart"]

logger = logging.getLogger("shared.identity.sso")

#: How long a started sign-in may take (seconds), and a popup's result may wait.
STATE_TTL: Final = 600
RESULT_TTL: Final = 300
#: ``state``, the browser cookie and a result id: 32 random bytes, base64url.
RESULT_PATTERN: Final = r"[A-Za-z0-9_-]{43}"
_TOKEN_BYTES: Final = 32
_STORE_DOWN: Final = "sign-ins cannot be kept right now; try again in a moment"
#: IdP errors (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6) that are the person's no.
_DENIALS: Final = frozenset(
    {"access_denied", "login_required", "consent_required", "interaction_required"}
)
_IDP_BUSY: Final = frozenset({"temporarily_unavailable", "server_error"})


class SsoStart(msgspec.Struct, frozen=True, kw_only=True):
    """Where to send the browser, and the cookie value that binds the flow to it."""

    url: str
    binding: str


class PendingSignIn(msgspec.Struct, frozen=True, kw_only=True):
    """A started sign-in, as kept in Redis (its ``state`` already spent when read)."""

    account: str
    campaign: str
    issuer: str | None
    client_id: str
    redirect_uri: str
    verifier: str | None
    nonce: str | None
    binding: str  # the cookie value's hash
    popup: bool


class _Result(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    campaign: str
    identification: Identification | None = None
    code: str | None = None


_Kept = TypeVar("_Kept", PendingSignIn, _Result)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _basic_form_encoded(
    auth: Any, method: str, uri: str, headers: dict[str, str], body: str
) -> tuple[str, dict[str, str], str]:
    """``client_secret_basic`` as RFC 6749 §2.3.1 says: id and secret each
    ``application/x-www-form-urlencoded`` (Appendix B), then joined by ``:`` and base64."""
    pair = f"{quote_plus(auth.client_id, safe='')}:{quote_plus(auth.client_secret or '', safe='')}"
    headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    return uri, headers, body


def _check_token_answer(response: httpx.Response) -> httpx.Response:
    # Before Authlib reads it: an IdP that is down or busy is retryable, not a refusal.
    if response.status_code >= 500 or response.status_code in (408, 429):
        check_status(response, "token endpoint")
    return response


class SsoClient:
    """The player's OAuth client at each account's identity provider (one per process).

    Args:
        redis_url: where started sign-ins and popup results are kept (the player's Redis).
        secrets: the accounts' client secrets.
        http: bounded HTTP to the IdPs (its deadline bounds each exchange).
    """

    def __init__(
        self,
        redis_url: str | None,
        secrets_store: PlayerSecretsStore,
        *,
        http: IdpHttp | None = None,
        prefix: str = "player:sso:",
        timeout: float = 2.0,
    ) -> None:
        self.http = http or IdpHttp()
        self.providers = Providers(self.http)
        self._secrets = secrets_store
        self._prefix = prefix
        # None: an app built without Redis (its OpenAPI document, offline); the player
        # proper refuses to start without REDIS_URL.
        self._redis: redis.asyncio.Redis | None = None
        if redis_url is not None:
            self._redis = async_redis_client(redis_url, timeout=timeout, retries=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> SsoClient:
        """The client of ``settings`` (its Redis, the secrets in its Vault)."""
        return cls(settings.redis_url, PlayerSecretsStore(Vault(settings)))

    def _store(self) -> redis.asyncio.Redis:
        if self._redis is None:
            raise SsoUnavailable(_STORE_DOWN)
        return self._redis

    def _oauth(self, sso: SsoSettings, secret: str | None, redirect_uri: str) -> Any:
        client = AsyncOAuth2Client(
            client_id=sso.client_id,
            client_secret=secret,
            token_endpoint_auth_method=sso.client_auth,
            scope=sso.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256" if sso.pkce else None,
            **self.http.client_options(),
        )
        client.register_client_auth_method(("client_secret_basic", _basic_form_encoded))
        client.register_compliance_hook("access_token_response", _check_token_answer)
        return client

    async def begin(
        self, served: ServedCampaign, *, redirect_uri: str, binding: str | None, popup: bool
    ) -> SsoStart:
        """Start a sign-in for ``served``: the IdP's authorization URL (``client_id``,
        ``redirect_uri``, ``scope``, ``state``, PKCE S256, ``nonce`` with ``openid``).

        ``binding``: the browser's cookie value, if it has a well-formed one (kept, so two
        tabs signing in at once do not undo each other); otherwise a new one is made.

        Raises:
            SsoFailed: the account has no SSO settings, or its IdP's metadata is bad.
            SsoUnavailable: the IdP's discovery cannot be read, or Redis is down.
        """
        sso = _sso_of(served)
        metadata = await self.providers.metadata(sso)
        if binding is None or not _well_formed(binding):
            binding = secrets.token_urlsafe(_TOKEN_BYTES)
        state = secrets.token_urlsafe(_TOKEN_BYTES)
        verifier = secrets.token_urlsafe(48) if sso.pkce else None  # 64 characters
        nonce = secrets.token_urlsafe(_TOKEN_BYTES) if "openid" in sso.scope.split() else None
        pending = PendingSignIn(
            account=served.account,
            campaign=served.campaign,
            issuer=metadata.issuer,
            client_id=sso.client_id,
            redirect_uri=redirect_uri,
            verifier=verifier,
            nonce=nonce,
            binding=_digest(binding),
            popup=popup,
        )
        try:
            await self._store().set(
                self._key("state", state), msgspec.json.encode(pending), ex=STATE_TTL
            )
        except RedisError as exc:
            raise SsoUnavailable(_STORE_DOWN) from exc
        extra = {} if nonce is None else {"nonce": nonce}
        async with self._oauth(sso, None, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata.authorization_endpoint, state=state, code_verifier=verifier, **extra
            )
        return SsoStart(url=url, binding=binding)

    async def pending(self, params: Mapping[str, str], binding: str | None) -> PendingSignIn:
        """The sign-in the callback's ``state`` names, spent (single use) whatever follows.

        Raises:
            SsoStateInvalid: no ``state``, an unknown, expired or spent one, or one started
                in another browser (``binding``, its cookie, does not match).
            SsoUnavailable: Redis is down.
        """
        pending = await self._spend("state", params.get("state", ""), PendingSignIn)
        if binding is None or not secrets.compare_digest(_digest(binding), pending.binding):
            raise SsoStateInvalid("this sign-in was started in another browser")
        return pending

    async def sign_in(
        self, served: ServedCampaign, pending: PendingSignIn, params: Mapping[str, str]
    ) -> Identification:
        """Finish ``pending`` with the callback's ``params``: who the participant is.

        Raises:
            SsoIssuerMismatch: ``iss`` names another issuer, or is missing although the IdP
                says it always sends it (RFC 9207).
            SsoDenied: the participant (or the IdP) said no (``access_denied``).
            SsoFailed: the code was refused (``invalid_grant``...), or a token or the
                profile is not what it must be.
            SsoUnavailable: the IdP is down or too slow.
        """
        sso = _sso_of(served)
        if sso.issuer != pending.issuer or sso.client_id != pending.client_id:
            raise SsoFailed("the campaign's sign-in settings changed meanwhile: start again")
        metadata = await self.providers.metadata(sso)
        _check_issuer(params.get("iss"), metadata)
        error = params.get("error")
        if error is not None:
            if error in _DENIALS:
                raise SsoDenied("the sign-in was refused at the identity provider")
            if error in _IDP_BUSY:
                raise SsoUnavailable("the identity provider cannot sign you in right now")
            raise SsoFailed(f"the identity provider refused the sign-in ({error[:64]})")
        code = params.get("code")
        if not code:
            raise SsoFailed("the identity provider's answer carries no code")
        token = await self._redeem(sso, served.account, pending, code, metadata)
        profile = await self._profile(sso, token, pending, metadata)
        return sso_identification(served, profile)

    async def _redeem(
        self,
        sso: SsoSettings,
        account: str,
        pending: PendingSignIn,
        code: str,
        metadata: ProviderMetadata,
    ) -> Mapping[str, Any]:
        # Vault's client blocks: off the event loop (cached reads return at once anyway).
        secret = await asyncio.to_thread(self._client_secret, account)
        extra = {} if pending.verifier is None else {"code_verifier": pending.verifier}
        try:
            with anyio.fail_after(self.http.deadline):
                async with self._oauth(sso, secret, pending.redirect_uri) as client:
                    token: Mapping[str, Any] = await client.fetch_token(
                        metadata.token_endpoint,
                        grant_type="authorization_code",
                        code=code,
                        redirect_uri=pending.redirect_uri,
                        **extra,
                    )
        except TimeoutError as exc:
            raise SsoUnavailable("the identity provider's token endpoint is too slow") from exc
        except OAuthError as exc:
            # Its error name only: the description could echo what we sent.
            error = str(getattr(exc, "error", "") or "refused")[:64]
            if error in _IDP_BUSY:
                raise SsoUnavailable("the identity provider cannot sign you in now") from None
            raise SsoFailed(f"the identity provider refused the code ({error})") from None
        except TooLarge:
            raise SsoFailed("the identity provider's token answer is too large") from None
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            raise SsoFailed(f"the identity provider's token endpoint answered {status}") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise SsoUnavailable("the identity provider's token endpoint is unreachable") from exc
        except ValueError:
            raise SsoFailed("the identity provider's token answer is not a JSON object") from None
        if not isinstance(token.get("access_token"), str) or not token["access_token"]:
            raise SsoFailed("the identity provider's token answer has no access token")
        return token

    def _client_secret(self, account: str) -> str | None:
        try:
            return self._secrets.get(account).sso_client_secret
        except ServiceError as exc:
            raise SsoUnavailable("the campaign's sign-in settings cannot be read now") from exc

    async def _profile(
        self,
        sso: SsoSettings,
        token: Mapping[str, Any],
        pending: PendingSignIn,
        metadata: ProviderMetadata,
    ) -> dict[str, Any]:
        id_claims: dict[str, Any] | None = None
        id_token = token.get("id_token")
        if pending.nonce is not None or id_token is not None:
            if not isinstance(id_token, str):
                raise SsoFailed("the identity provider sent no ID token for scope openid")
            id_claims = await self.providers.verify_jwt(
                id_token,
                metadata,
                audience=sso.client_id,
                what="ID token",
                nonce=pending.nonce,
            )
        access_token: str = token["access_token"]
        if sso.profile_source == "id_token":
            if id_claims is None:  # the settings need openid for this source
                raise SsoFailed("the identity provider sent no ID token")
            return id_claims
        if sso.profile_source == "access_token":
            profile = await self.providers.verify_jwt(
                access_token, metadata, audience=sso.client_id, what="access token"
            )
        else:
            if metadata.userinfo_endpoint is None:
                raise SsoFailed("the identity provider names no userinfo endpoint")
            answer = await self.http.get_json(
                metadata.userinfo_endpoint, what="userinfo endpoint", bearer=access_token
            )
            if not isinstance(answer, dict) or not isinstance(answer.get("sub"), str):
                raise SsoFailed("the identity provider's userinfo is not a profile")
            profile = answer
        if id_claims is not None and profile.get("sub") != id_claims["sub"]:
            # OpenID Connect Core §5.3.2: another person's profile must not be used.
            raise SsoFailed("the identity provider's profile is not the signed-in person's")
        return profile

    async def put_result(
        self,
        account: str,
        campaign: str,
        *,
        identification: Identification | None = None,
        code: str | None = None,
    ) -> str:
        """Keep a sign-in's outcome (who, or the error's code) for the campaign page: a new
        single-use result id.

        Raises:
            SsoUnavailable: Redis is down.
        """
        result_id = secrets.token_urlsafe(_TOKEN_BYTES)
        result = _Result(
            account=account, campaign=campaign, identification=identification, code=code
        )
        try:
            await self._store().set(
                self._key("result", result_id), msgspec.json.encode(result), ex=RESULT_TTL
            )
        except RedisError as exc:
            raise SsoUnavailable(_STORE_DOWN) from exc
        return result_id

    async def take_result(self, result_id: str, served: ServedCampaign) -> Identification:
        """The outcome a popup kept for ``served`` (spent: single use).

        Raises:
            SsoStateInvalid: unknown, expired, spent, or for another campaign.
            SsoFailed: the sign-in failed (the subclass of the code it failed with).
            SsoUnavailable: Redis is down.
        """
        result = await self._spend("result", result_id, _Result)
        if (result.account, result.campaign) != (served.account, served.campaign):
            raise SsoStateInvalid("this sign-in result is for another campaign")
        if result.identification is None:
            raise _ERRORS.get(result.code or "", SsoFailed)("the sign-in did not succeed")
        return result.identification

    async def _spend(self, kind: str, value: str, into: type[_Kept]) -> _Kept:
        """What is kept under ``value`` (a state or a result id), deleted as it is read.

        Raises:
            SsoStateInvalid: ``value`` is malformed, unknown, expired or spent.
            SsoUnavailable: Redis is down.
        """
        if not _well_formed(value):
            raise SsoStateInvalid(f"this sign-in {kind} is not one the campaign made")
        try:
            raw = await self._store().getdel(self._key(kind, value))
        except RedisError as exc:
            raise SsoUnavailable(_STORE_DOWN) from exc
        if raw is None:
            raise SsoStateInvalid(f"this sign-in {kind} is unknown, expired or used already")
        return msgspec.json.decode(raw, type=into)

    def _key(self, kind: str, value: str) -> str:
        # A hash: what is in Redis cannot be replayed at the callback.
        return f"{self._prefix}{kind}:{_digest(value)}"

    async def close(self) -> None:
        """Close the connections to Redis and to the IdPs."""
        if self._redis is not None:
            await self._redis.aclose()
        await self.http.close()


_ERRORS: Final[dict[str, type[SsoFailed]]] = {
    cls.code: cls
    for cls in (SsoFailed, SsoStateInvalid, SsoIssuerMismatch, SsoDenied, SsoUnavailable)
}


def _well_formed(value: str) -> bool:
    return len(value) == 43 and all(c.isalnum() or c in "-_" for c in value) and value.isascii()


def _sso_of(served: ServedCampaign) -> SsoSettings:
    sso = served.settings.sso
    if served.settings.identification != "sso" or sso is None:
        # As for any path the account does not serve: nothing to tell a prober.
        raise CampaignNotFound("there is no such campaign")
    return sso


def _check_issuer(iss: str | None, metadata: ProviderMetadata) -> None:
    """RFC 9207: ``iss``, when sent (or promised), must be the issuer the request went to."""
    if iss is None:
        if metadata.iss_parameter:
            raise SsoIssuerMismatch("the sign-in answer does not say which provider sent it")
        return
    # Without a configured issuer there is nothing to compare with (documented).
    if metadata.issuer is not None and iss != metadata.issuer:
        raise SsoIssuerMismatch("the sign-in answer comes from another identity provider")
