"""An account's player settings (DESIGN §11): where its campaigns may be framed, how a
verified token becomes form fields, its campaigns, and the customer's profile API.

A :class:`PlayerSettings` is stored as-is in KV v2 at ``player/<account_id>``, beside (not
inside) the account document: the player's concerns change on their own schedule, and the
APIs never read them. Types and simple bounds hold whenever a document is decoded;
:func:`validate_player_settings` adds what needs parsing (origins, URLs) on every write.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

import msgspec

from shared.accounts.document import is_loopback
from shared.identity.errors import PlayerSettingsInvalid

__all__ = [
    "CAMPAIGN_ID_PATTERN",
    "CLAIM_PATH_PATTERN",
    "FIELD_NAME_PATTERN",
    "SSO_DEFAULT_PREFILL",
    "Campaign",
    "MessageWait",
    "PlayerSettings",
    "SsoSettings",
    "WebhookSettings",
    "check_origin",
    "check_profile_api",
    "check_service_url",
    "validate_player_settings",
]

# \Z, not $: msgspec searches with `re`, where `$` also matches before a final newline.
#: Campaign ids as the platform's docs show them (numbers, GUIDs), URL-safe as they are.
CAMPAIGN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z"
#: Form field names: what an HTML form, a CSV export and a webhook consumer all accept.
FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}\Z"
#: Where a value comes from: ``sub``, or a member (at most four levels deep) of one of the
#: token's data objects.
CLAIM_PATH_PATTERN = r"^(sub|(profile|form|optin|custom)(\.[A-Za-z0-9_-]{1,64}){1,4})\Z"

CampaignId = Annotated[str, msgspec.Meta(pattern=CAMPAIGN_ID_PATTERN)]
FieldName = Annotated[str, msgspec.Meta(pattern=FIELD_NAME_PATTERN)]
ClaimPath = Annotated[str, msgspec.Meta(pattern=CLAIM_PATH_PATTERN)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
#: How long a campaign waits for the parent page's answer (seconds): long enough for a
#: person to sign in on the customer's page, bounded so a silent page never hangs it.
MessageWait = Annotated[int, msgspec.Meta(ge=1, le=900)]
Identification = Literal["secure_token", "messages", "sso"]
#: An OAuth client id as IdPs issue them (RFC 6749 §A.1: printable ASCII).
ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=r"^[\x20-\x7e]+\Z")]
#: OAuth scope tokens (RFC 6749 §3.3), space-separated.
_SCOPE_CHARS = r"[\x21\x23-\x5b\x5d-\x7e]+"
Scope = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=1000, pattern=rf"^{_SCOPE_CHARS}( {_SCOPE_CHARS})*\Z"),
]
#: A claim of the IdP's profile (userinfo, ID token, JWT access token), by name.
ClaimName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_:.-]{1,64}\Z")]
#: An HTTP header name (RFC 9110 token), for the webhook's auth header.
HeaderName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}\Z")]
ClientAuth = Literal["client_secret_post", "client_secret_basic"]
ProfileSource = Literal["userinfo", "access_token", "id_token"]
#: What an OpenID provider's standard claims fill (OpenID Connect Core §5.1), under the
#: account's SSO mapping.
SSO_DEFAULT_PREFILL: Final = {
    "given_name": "firstname",
    "family_name": "lastname",
    "email": "email",
    "birthdate": "birthdate",
}
#: Headers a webhook's auth header may not replace (the Standard Webhooks ones, framing).
_RESERVED_HEADERS: Final = frozenset(
    {"content-type", "content-length", "host", "transfer-encoding", "connection", "user-agent"}
)


class Campaign(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A campaign the player serves for the account."""

    title: Title


class SsoSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The account's OAuth 2.0 / OpenID Connect client at its identity provider (channel 3).

    The client secret is not here: it is kept apart, in ``player-secrets/accounts/<id>``
    (:mod:`shared.identity.player_secrets`), and never printed back.

    Attributes:
        issuer: the IdP's issuer; its endpoints come from discovery
            (``/.well-known/openid-configuration``, else RFC 8414's) unless given below.
        authorization_endpoint, token_endpoint, userinfo_endpoint, jwks_uri: the endpoints
            one by one (each overrides discovery).
        client_id: the player's client id at the IdP.
        scope: what is asked (``openid`` is needed for an ID token).
        pkce: send a PKCE S256 challenge (RFC 7636).
        client_auth: how the token request authenticates (RFC 6749 §2.3.1).
        profile_source: where the profile is read: the userinfo endpoint, the JWT access
            token, or the ID token (JWTs verified against the IdP's JWKS).
        prefill: IdP claim -> form field, on top of the OpenID standard claims
            (``given_name``, ``family_name``, ``email``, ``birthdate``).
    """

    issuer: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    jwks_uri: str | None = None
    client_id: ClientId
    scope: Scope = "openid profile email"
    pkce: bool = True
    client_auth: ClientAuth = "client_secret_post"
    profile_source: ProfileSource = "userinfo"
    prefill: Annotated[dict[ClaimName, FieldName], msgspec.Meta(max_length=100)] = {}


class WebhookSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where ``profile.updated`` events go (Standard Webhooks); the signing secret and the
    auth header's value are kept with the other secrets, never here.

    Attributes:
        url: the customer's receiver (https; http on loopback only).
        auth_header: the name of the extra header sent with each event, if any.
    """

    url: str
    auth_header: HeaderName | None = None


class PlayerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the player needs to know about an account (DESIGN §11).

    Attributes:
        identification: the channel at the form step (``secure_token``: the token comes
            with the page, none is ``TOKEN_EMPTY``).
        parent_origins: exact origins (``scheme://host[:port]``) allowed to frame the
            account's campaigns; none means they cannot be framed (a top-level minisite
            still works).
        prefill: claim path -> form field, on top of the default mapping (``profile.x``,
            ``form.x`` and ``optin.x`` fill field ``x``); an entry here wins for its field.
        campaigns: the campaigns served, by id; any other id is not found.
        profile_api: the customer's profile endpoint, for tokens that carry an
            ``access_token`` instead of data (https; http on loopback only).
        message_wait: with ``messages``, the seconds a campaign waits for the parent
            page's ``userInfo`` (or its ``requestParticipantAction`` answer) before it shows
            that the page did not answer.
        sso: the OAuth client at the account's identity provider (``sso``).
        webhook: where profile changes are pushed back, if anywhere.
    """

    identification: Identification = "secure_token"
    parent_origins: Annotated[tuple[str, ...], msgspec.Meta(max_length=20)] = ()
    prefill: Annotated[dict[ClaimPath, FieldName], msgspec.Meta(max_length=100)] = {}
    campaigns: Annotated[dict[CampaignId, Campaign], msgspec.Meta(max_length=1000)] = {}
    profile_api: str | None = None
    message_wait: MessageWait = 120
    sso: SsoSettings | None = None
    webhook: WebhookSettings | None = None


def check_origin(origin: str) -> str:
    """Return ``origin`` if it is one exact origin a browser would send, else raise.

    Exactly ``scheme://host[:port]``: lowercase, no path, query, fragment, user info or
    wildcard, the default port left out (a browser's ``event.origin`` and the
    ``frame-ancestors`` comparison use that form); https, or http on loopback.

    Raises:
        PlayerSettingsInvalid: naming what is wrong.
    """
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        raise PlayerSettingsInvalid(f"parent origin {origin!r} is not a URL origin") from None
    host = parts.hostname or ""
    if "*" in origin:
        raise PlayerSettingsInvalid(f"parent origin {origin!r}: wildcards are not allowed")
    if parts.scheme not in ("https", "http") or not host:
        raise PlayerSettingsInvalid(
            f"parent origin {origin!r} must be https://host[:port] (or http on loopback)"
        )
    if parts.scheme == "http" and not is_loopback(host):
        raise PlayerSettingsInvalid(
            f"parent origin {origin!r} must be https (http on loopback only)"
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise PlayerSettingsInvalid(f"parent origin {origin!r} must not carry user info")
    if port is not None and (port == 0 or not parts.netloc.endswith(f":{port}")):
        # ":08080" or ":0" parse, but no browser sends them: such an origin never matches.
        raise PlayerSettingsInvalid(
            f"parent origin {origin!r}: the port must be 1-65535 in plain digits"
        )
    default = {"https": 443, "http": 80}[parts.scheme]
    canonical = f"{parts.scheme}://{parts.netloc.lower()}"
    if port == default:
        canonical = canonical.rsplit(":", 1)[0]
    if origin != canonical or parts.path or parts.query or parts.fragment or origin.endswith(":"):
        raise PlayerSettingsInvalid(
            f"parent origin {origin!r} must be exactly scheme://host[:port] as a browser "
            f"sends it (lowercase, no path, no default port): {canonical!r}?"
        )
    return origin


def check_service_url(url: str, what: str) -> str:
    """Return ``url`` if the player may send participants' credentials or data to it.

    Raises:
        PlayerSettingsInvalid: not https (http on loopback only), user info in it, or a
            fragment; ``what`` names the setting.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise PlayerSettingsInvalid(f"{what} {url!r} is not a URL") from None
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise PlayerSettingsInvalid(f"{what} must be an https URL, got {url!r}")
    if parts.scheme == "http" and not is_loopback(host):
        # Participants' tokens and profiles would cross the network in clear.
        raise PlayerSettingsInvalid(f"{what} must be https (http on loopback only): {url!r}")
    if parts.username is not None or "@" in parts.netloc or parts.fragment:
        raise PlayerSettingsInvalid(f"{what} must carry no user info or fragment: {url!r}")
    return url


def check_profile_api(url: str) -> str:
    """Return ``url`` if the player may call it with participants' access tokens, else raise.

    Raises:
        PlayerSettingsInvalid: not https (http on loopback only), user info in it, or a
            fragment.
    """
    return check_service_url(url, "profile_api")


def _check_sso(sso: SsoSettings) -> None:
    for name in ("issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint"):
        value = getattr(sso, name)
        if value is not None:
            check_service_url(value, f"sso.{name}")
    if sso.jwks_uri is not None:
        check_service_url(sso.jwks_uri, "sso.jwks_uri")
    if sso.issuer is None:
        # Without discovery, every endpoint the flow uses must be given.
        needed = ["authorization_endpoint", "token_endpoint"]
        needed.append("userinfo_endpoint" if sso.profile_source == "userinfo" else "jwks_uri")
        missing = [n for n in needed if getattr(sso, n) is None]
        if missing:
            raise PlayerSettingsInvalid(
                f"sso needs an issuer (discovery) or its endpoints: {', '.join(missing)} missing"
            )
    if sso.profile_source == "id_token" and "openid" not in sso.scope.split():
        raise PlayerSettingsInvalid("sso.profile_source id_token needs the scope 'openid'")


def validate_player_settings(settings: PlayerSettings) -> PlayerSettings:
    """Check what the types cannot; return ``settings`` unchanged.

    Raises:
        PlayerSettingsInvalid: the first rule broken, named.
    """
    for origin in settings.parent_origins:
        check_origin(origin)
    if len(set(settings.parent_origins)) != len(settings.parent_origins):
        raise PlayerSettingsInvalid("parent origins are listed twice")
    if settings.profile_api is not None:
        check_profile_api(settings.profile_api)
    if settings.sso is not None:
        _check_sso(settings.sso)
    elif settings.identification == "sso":
        raise PlayerSettingsInvalid("identification sso needs the sso settings (client, IdP)")
    if settings.webhook is not None:
        check_service_url(settings.webhook.url, "webhook.url")
        header = settings.webhook.auth_header
        if header is not None and (
            header.lower() in _RESERVED_HEADERS or header.lower().startswith("webhook-")
        ):
            raise PlayerSettingsInvalid(f"webhook auth header {header!r} is reserved")
    return settings
