"""Single sign-on with an account's identity provider (DESIGN §11, channel 3): the player
as an OAuth 2.0 / OpenID Connect client (Authlib for the protocol, joserfc for the JWTs)."""

from shared.identity.sso.flow import RESULT_PATTERN, STATE_TTL, PendingSignIn, SsoClient, SsoStart
from shared.identity.sso.http import IdpHttp
from shared.identity.sso.provider import JWT_ALGORITHMS, ProviderMetadata, Providers

__all__ = [
    "JWT_ALGORITHMS",
    "RESULT_PATTERN",
    "STATE_TTL",
    "IdpHttp",
    "PendingSignIn",
    "ProviderMetadata",
    "Providers",
    "SsoClient",
    "SsoStart",
]
