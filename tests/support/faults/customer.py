"""A customer whose accounts validate through its own JWKS endpoint, using both APIs."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from shared import Account, AccountStore, JwksValidation, Vault
from shared.wire import JWT_BEARER
from tests.support.authz import Authz
from tests.support.crypto import Crypto
from tests.support.jwks_server import JwksServer
from tests.support.tokens import claims, private_key, sign

__all__ = ["Apis", "Rotating", "jwk_of", "jws_for", "rotating_account"]


def jwk_of(kid: str, stem: str = "rsa-2048") -> dict[str, Any]:
    """The public JWK of ``tests/keys/<stem>-private.pem`` with ``kid``."""
    return {**private_key(stem).as_dict(private=False), "kid": kid, "use": "sig"}


def jws_for(kid: str, stem: str = "rsa-2048") -> str:
    """A secure token signed RS256 with that key, naming ``kid``."""
    return sign(claims(), "RS256", stem, kid=kid)


@dataclass
class Apis:
    """Both APIs (on the session OpenBao) and the requests a JWKS customer sends them."""

    authz: Authz
    crypto: Crypto
    vault: Vault

    def account(self, uri: str) -> Account:
        """A JWKS account (RS256) on ``uri``."""
        validation = JwksValidation(algorithms=("RS256",), jwks_uri=uri)
        return AccountStore(self.vault).create(
            Account(id=f"j-{uuid.uuid4().hex[:10]}", validation=validation)
        )

    def exchange(self, account: Account, token: str) -> Any:
        def send(http: httpx.Client) -> httpx.Response:
            return http.post(
                f"{self.authz.url}/oauth/token",
                data={"grant_type": JWT_BEARER, "client_id": account.id, "assertion": token},
            )

        return send

    def encrypt(self, bearer: str, token: str) -> Any:
        def send(http: httpx.Client) -> httpx.Response:
            return http.post(
                f"{self.crypto.url}/v1/encrypt",
                json={"token": token},
                headers={"Authorization": f"Bearer {bearer}"},
            )

        return send

    def bearer(self, account: Account, token: str) -> str:
        with httpx.Client(timeout=30) as http:
            response = self.exchange(account, token)(http)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@dataclass
class Rotating:
    """A JWKS account whose key set both APIs fetched at ``fetched`` (monotonic)."""

    server: JwksServer
    account: Account
    bearer: str
    fetched: float


def rotating_account(apis: Apis, server: JwksServer) -> Rotating:
    """An account on ``server`` (key ``k1``), used once at each API so both fetched it."""
    server.document = {"keys": [jwk_of("k1")]}
    account = apis.account(server.url)
    token = jws_for("k1")
    bearer = apis.bearer(account, token)  # the Authorization API fetches
    with httpx.Client(timeout=30) as http:
        assert apis.encrypt(bearer, token)(http).status_code == 200  # the Crypto API too
    return Rotating(server, account, bearer, time.monotonic())
