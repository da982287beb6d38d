"""Single sign-on test set-up: the IdP's two clients, its users, and an account of the player
that signs its participants in there."""

from __future__ import annotations

from typing import Any

from shared.identity import (
    Campaign,
    PlayerSecrets,
    PlayerSecretsStore,
    PlayerSettings,
    PlayerStore,
    SsoSettings,
)
from shared.vault import Vault
from tests.support.oidc_provider import OidcProvider

__all__ = [
    "BASIC",
    "CAMPAIGN",
    "POST",
    "USERS",
    "Client",
    "clients",
    "identity_providers",
    "put_sso_account",
]

CAMPAIGN = "1001"
#: The IdP's people: any login signs in; these have a profile.
USERS: dict[str, dict[str, Any]] = {
    "ada": {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email": "ada@example.com",
        "email_verified": True,
        "birthdate": "1990-12-10",
        "nickname": "countess",
    },
    "grace": {"given_name": "Grace", "family_name": "Hopper", "email": "grace@example.com"},
}


class Client:
    """A client registered at the IdP."""

    def __init__(self, client_id: str, secret: str, method: str) -> None:
        self.id = client_id
        self.secret = secret
        self.method = method

    def metadata(self, redirect_uris: list[str]) -> dict[str, Any]:
        """oidc-provider's client metadata."""
        return {
            "client_id": self.id,
            "client_secret": self.secret,
            "redirect_uris": redirect_uris,
            "token_endpoint_auth_method": self.method,
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }


POST = Client("campaign-player", "post-secret-0123456789", "client_secret_post")
#: Characters RFC 6749 §2.3.1 makes a client form-encode before base64 (':' would split the
#: pair; '%' and '+' would decode to something else at a conforming IdP).
BASIC = Client("player:basic+id%2", "s3cr:et+with%25/and=", "client_secret_basic")


def clients(redirect_uris: list[str]) -> list[dict[str, Any]]:
    """Both clients, for one provider."""
    return [POST.metadata(redirect_uris), BASIC.metadata(redirect_uris)]


def identity_providers(callback: str) -> OidcProvider:
    """The customer's IdP and another provider (the mix-up), both knowing both clients with
    ``callback`` as their redirect URI: ``with identity_providers(url) as idp: ...``."""
    return OidcProvider(clients([callback]), clients([callback]), users=USERS)


def put_sso_account(
    vault: Vault,
    account_id: str,
    issuer: str,
    client: Client = POST,
    *,
    parent_origins: tuple[str, ...] = (),
    **sso: Any,
) -> PlayerSettings:
    """Settings (campaign 1001, SSO at ``issuer`` with ``client``) and the client secret of
    an account that exists already; ``sso`` overrides :class:`SsoSettings` fields."""
    settings = PlayerSettings(
        identification="sso",
        parent_origins=parent_origins,
        campaigns={CAMPAIGN: Campaign(title="Summer quiz")},
        sso=SsoSettings(issuer=issuer, client_id=client.id, client_auth=client.method, **sso),  # type: ignore[arg-type]
    )
    PlayerStore(vault).put(account_id, settings, expected=0)
    PlayerSecretsStore(vault).put(
        account_id, PlayerSecrets(sso_client_secret=client.secret), expected=0
    )
    return settings
