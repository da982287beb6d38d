"""Both APIs over real HTTP on a Vault the test may break (each logged in with its
AppRole), with accounts, bearers and tokens; checks that what was answered 200 is usable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwk, jws

from shared import Account, AccountStore, PublicKeyValidation, Settings, Vault, Verifier
from shared.wire import JWT_BEARER
from tests.support.authz import Authz, serve
from tests.support.crypto import Crypto, serve_crypto
from tests.support.faults.load import Call
from tests.support.faults.raft import RaftCluster
from tests.support.tokens import claims, pem, sign

#: Vault settings of the services under test: short timeout and cache TTL, so that a fault
#: of a few seconds outlasts every cached entry (stale-if-error must then serve them).
VAULT_TIMEOUT = 1.0
CACHE_TTL = 1.0
#: The longest any call may take while Vault misbehaves: a token exchange may wait for an
#: account reload (one timeout) and for its signature (two timeouts), plus a loaded machine.
CALL_BOUND = 3 * VAULT_TIMEOUT + 2.5
#: Kinds that are served from cache whatever Vault does.
ALWAYS_OK = {"encrypt", "batch", "jwks", "authz-jwks"}


def approle_settings(admin: Vault, role: str, addr: str, **overrides: Any) -> Settings:
    """Settings logging in to ``addr`` with a fresh secret id of AppRole ``role``."""
    return Settings(
        vault_addr=addr,
        vault_role_id=admin.approle_role_id(role),
        vault_secret_id=admin.approle_new_secret_id(role),
        **overrides,
    )


def new_account(admin: Vault, label: str) -> Account:
    """An ES256 public-key account (``tests/keys/ec-p256``) with its Transit key."""
    validation = PublicKeyValidation(algorithms=("ES256",), public_key_pem=pem("ec-p256"))
    return AccountStore(admin).create(
        Account(id=f"f-{label}-{uuid.uuid4().hex[:8]}", validation=validation)
    )


@dataclass
class Stack:
    """The Authorization and Crypto APIs (uvicorn threads) on one Vault, as the services'
    AppRoles, with a ``warm`` account (used before any fault) and a ``cold`` one (never used
    by the Crypto API before the fault)."""

    admin: Vault
    authz: Authz
    crypto: Crypto
    warm: Account
    cold: Account
    jws: str = field(default_factory=lambda: sign(claims(), "ES256", "ec-p256"))
    bearers: dict[str, str] = field(default_factory=dict)

    def bearer(self, account: Account) -> str:
        if account.id not in self.bearers:
            self.bearers[account.id] = self.crypto.bearer(account.id)
        return self.bearers[account.id]

    # -- the requests of the load ------------------------------------------------------------

    def token(self, http: httpx.Client) -> httpx.Response:
        return http.post(
            f"{self.authz.url}/oauth/token",
            data={"grant_type": JWT_BEARER, "client_id": self.warm.id, "assertion": self.jws},
        )

    def encrypt_as(self, account: Account) -> Any:
        bearer = self.bearer(account)

        def send(http: httpx.Client) -> httpx.Response:
            return http.post(
                f"{self.crypto.url}/v1/encrypt",
                json={"token": self.jws},
                headers={"Authorization": f"Bearer {bearer}"},
            )

        return send

    def batch(self, http: httpx.Client) -> httpx.Response:
        return http.post(
            f"{self.crypto.url}/v1/encrypt/batch",
            json={"tokens": [self.jws] * 3},
            headers={"Authorization": f"Bearer {self.bearer(self.warm)}"},
        )

    def account_jwks(self, http: httpx.Client) -> httpx.Response:
        return http.get(f"{self.crypto.url}/v1/accounts/{self.warm.id}/jwks.json")

    def authz_jwks(self, http: httpx.Client) -> httpx.Response:
        return http.get(f"{self.authz.url}/.well-known/jwks.json")

    def warm_requests(self) -> list[tuple[str, Any]]:
        """What a busy customer does: exchanges, encrypts, batches, key lookups."""
        return [
            ("token", self.token),
            ("encrypt", self.encrypt_as(self.warm)),
            ("batch", self.batch),
            ("encrypt", self.encrypt_as(self.warm)),
            ("jwks", self.account_jwks),
            ("authz-jwks", self.authz_jwks),
        ]

    def warm_up(self) -> None:
        """Every warm request once, successfully: the caches now hold what they serve."""
        with httpx.Client(timeout=30) as http:
            for kind, send in self.warm_requests():
                response = send(http)
                assert response.status_code == 200, (kind, response.text)
        self.bearer(self.cold)  # the Authorization API knows it; the Crypto API does not


@contextmanager
def services(admin: Vault, addr: str, **overrides: Any) -> Iterator[Stack]:
    """Both APIs on Vault ``addr`` (each logging in with its AppRole), rate limits off, short
    Vault timeout and cache TTL."""
    options: dict[str, Any] = {
        "vault_timeout": VAULT_TIMEOUT,
        "cache_ttl": CACHE_TTL,
        **overrides,
    }
    warm, cold = new_account(admin, "warm"), new_account(admin, "cold")
    with ExitStack() as stack:
        authz = stack.enter_context(
            serve(
                approle_settings(admin, "authz-api", addr, **options),
                rate_limit_per_second=0.0,
            )
        )
        crypto = stack.enter_context(
            serve_crypto(
                approle_settings(admin, "crypto-api", addr, **options),
                authz,
                crypto_rate_per_second=0.0,
                crypto_batch_rate_per_second=0.0,
                crypto_jwks_rate_per_second=0.0,
            )
        )
        result = Stack(admin=admin, authz=authz, crypto=crypto, warm=warm, cold=cold)
        result.warm_up()
        yield result


def root_vault(cluster: RaftCluster) -> Vault:
    return Vault(Settings(vault_addr=cluster.addrs, vault_token=cluster.root_token))


def assert_jwes_open(admin: Vault, calls: list[Call], sample: int = 40) -> int:
    """JWEs of successful encrypt and batch calls, ``sample`` of them spread over the run,
    open with the player's verifier (Transit decrypts) and give back the JWS's subject:
    nothing we answered 200 for is unusable. Returns how many were opened."""
    jwes: list[tuple[str, str]] = []
    for call in calls:
        if call.status != 200 or not isinstance(call.body, dict):
            continue
        if "token" in call.body:
            jwes.append((call.body["kid"], call.body["token"]))
        for item in call.body.get("results", []):
            assert "token" in item, item  # a good token in a batch is never an error
            jwes.append((item["kid"], item["token"]))
    assert jwes, "no JWE was answered"
    verifier = Verifier(admin)
    picked = jwes[:: max(1, len(jwes) // sample)]
    for kid, jwe in picked:
        account = kid.split("/")[0]
        assert verifier.verify(jwe, account_id=account, campaign_id="1001").subject == (
            "participant-42"
        )
    return len(picked)


def assert_bearers_verify(authz: Authz, calls: list[Call], sample: int = 20) -> int:
    """Bearers of successful token calls verify with the Authorization API's JWKS."""
    bearers = [
        c.body["access_token"]
        for c in calls
        if c.status == 200 and isinstance(c.body, dict) and "access_token" in c.body
    ]
    assert bearers, "no bearer was issued"
    keys = jwk.KeySet.import_key_set(authz.http.get("/.well-known/jwks.json").json())
    picked = bearers[:: max(1, len(bearers) // sample)]
    for bearer in picked:
        jws.deserialize_compact(bearer, keys, algorithms=["ES256"])
    return len(picked)
