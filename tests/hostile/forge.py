"""Forging hostile tokens: the accounts they target and the tools an attacker would use.

Valid parts (signatures, key wrapping, content encryption) are always made by joserfc or
cryptography; only the malformed parts (headers, segments, claim texts) are written by hand.
The one exception is HMAC keyed with a public key (algorithm confusion): joserfc refuses
such keys, which is the point, so the attacker's HMAC is computed with :mod:`hmac`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from joserfc import jwe
from joserfc.jwk import ECKey, OctKey, RSAKey
from joserfc.jws import construct_registry

from shared import (
    Account,
    AccountStore,
    CustomerEncryption,
    JwksValidation,
    KeyStore,
    PublicKey,
    PublicKeyValidation,
    SymmetricValidation,
    Vault,
    seal,
)
from tests.support.tokens import b64, pem, private_key, unb64

__all__ = [
    "CAMPAIGN",
    "DROP",
    "JWKS_EC_KID",
    "JWKS_RSA_KID",
    "ROLES",
    "Context",
    "create_context",
    "customer_jwe",
    "hmac_signed",
    "jwks_document",
    "jws",
    "payload",
    "rewrite_header",
    "signature",
    "signed",
    "transit_jwe",
    "unsigned",
]

CAMPAIGN: Final = "1001"
#: A claim to leave out (``None`` in :func:`payload` means a JSON null).
DROP: Final = object()
#: Kids the ``jwks`` account's endpoint publishes.
JWKS_EC_KID: Final = "k1"
JWKS_RSA_KID: Final = "r1"

#: Each account role: (validation method, algorithms, tests/keys stem or None for HMAC).
ROLES: Final[dict[str, tuple[str, tuple[str, ...], str | None]]] = {
    "ec": ("public_key", ("ES256",), "ec-p256"),
    "ec384": ("public_key", ("ES384",), "ec-p384"),
    "ec521": ("public_key", ("ES512",), "ec-p521"),
    "rsa": ("public_key", ("RS256",), "rsa-2048"),
    "hmac": ("symmetric", ("HS256",), None),
    "jwks": ("jwks", ("ES256", "RS256"), "ec-p256"),
    # Same key as ``ec``: a token of one verifies for the other, so only the JWE kid
    # (which names the account) tells them apart.
    "other": ("public_key", ("ES256",), "ec-p256"),
    # ES256, plus a customer-side JWE key pinned to A256KW + A256GCM.
    "customer": ("public_key", ("ES256",), "ec-p256"),
}


@dataclass(frozen=True)
class Context:
    """The real accounts a corpus is built for (created in the session's OpenBao)."""

    #: Role -> account id.
    ids: Mapping[str, str]
    #: Role -> the account's latest Transit public key (what anyone may encrypt with).
    keys: Mapping[str, PublicKey]
    hmac_secret: bytes
    customer_key: bytes
    jwks_url: str

    def kid(self, role: str, version: int = 1) -> str:
        """Our JWE ``kid`` for ``role``'s account: ``<account>/<version>``."""
        return f"{self.ids[role]}/{version}"

    def rsa(self, role: str) -> RSAKey:
        """``role``'s Transit public key as a joserfc key."""
        return self.keys[role].jwk()

    def seal(self, role: str, token: str) -> str:
        """``token`` sealed for ``role`` exactly as the Crypto API does."""
        return seal(token, self.keys[role])


def jwks_document() -> dict[str, Any]:
    """What the ``jwks`` account's endpoint serves: ec-p256 as ``k1``, rsa-2048 as ``r1``."""
    return {
        "keys": [
            {**private_key("ec-p256").as_dict(private=False), "kid": JWKS_EC_KID},
            {**private_key("rsa-2048").as_dict(private=False), "kid": JWKS_RSA_KID},
        ]
    }


def create_context(vault: Vault, jwks_url: str, tag: str) -> Context:
    """Create one account per role (ids ``hx-<role>-<tag>``) and return their context."""
    store, keystore = AccountStore(vault), KeyStore(vault)
    hmac_secret, customer_key = secrets.token_bytes(64), secrets.token_bytes(32)
    ids: dict[str, str] = {}
    for role, (method, algorithms, stem) in ROLES.items():
        validation: PublicKeyValidation | SymmetricValidation | JwksValidation
        if method == "symmetric":
            validation = SymmetricValidation(algorithms=algorithms, secret=hmac_secret)
        elif method == "jwks":
            validation = JwksValidation(algorithms=algorithms, jwks_uri=jwks_url)
        else:
            validation = PublicKeyValidation(algorithms=algorithms, public_key_pem=pem(str(stem)))
        encryption = (
            CustomerEncryption(alg="A256KW", enc="A256GCM", key=customer_key)
            if role == "customer"
            else None
        )
        account = Account(
            id=f"hx-{role}-{tag}", validation=validation, customer_encryption=encryption
        )
        ids[role] = store.create(account).id
    return Context(
        ids=ids,
        keys={role: keystore.get(account_id).latest for role, account_id in ids.items()},
        hmac_secret=hmac_secret,
        customer_key=customer_key,
        jwks_url=jwks_url,
    )


def _text(value: dict[str, Any] | str | bytes) -> bytes:
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":")).encode()
    return value.encode() if isinstance(value, str) else value


def payload(**changes: Any) -> dict[str, Any]:
    """Valid secure-token claims for now and ``CAMPAIGN``; :data:`DROP` removes a claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "participant-42",
        "campaignId": CAMPAIGN,
        "iat": now - 10,
        "exp": now + 3600,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not DROP}


def _key(key: Any) -> Any:
    if isinstance(key, str):
        return private_key(key)
    if isinstance(key, bytes):
        return OctKey.import_key(key)
    return key


def signature(signing_input: str, alg: str, key: Any) -> bytes:
    """joserfc's ``alg`` signature over any signing input (however it is spelt).

    ``key``: a joserfc key, a ``tests/keys`` stem or raw HMAC bytes.
    """
    return construct_registry([alg]).get_alg(alg).sign(signing_input.encode(), _key(key))


def signed(
    header: dict[str, Any] | str | bytes, body: dict[str, Any] | str | bytes, alg: str, key: Any
) -> str:
    """A compact JWS over any header and payload text, signed by joserfc's ``alg``.

    The signature covers the segments exactly as sent, so a lenient parser that verified
    them would accept the token.
    """
    signing_input = f"{b64(_text(header))}.{b64(_text(body))}"
    return f"{signing_input}.{b64(signature(signing_input, alg, key))}"


def hmac_signed(
    header: dict[str, Any] | str, body: dict[str, Any] | str, secret: bytes, alg: str = "HS256"
) -> str:
    """An HMAC JWS keyed with any bytes (a public key, an empty secret): what joserfc refuses."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{b64(_text(header))}.{b64(_text(body))}"
    mac = hmac.new(secret, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(mac)}"


def unsigned(header: dict[str, Any] | str, body: dict[str, Any] | str, signature: str = "") -> str:
    """A JWS with no real signature (``alg: none`` and friends)."""
    return f"{b64(_text(header))}.{b64(_text(body))}.{signature}"


def jws(ctx: Context, role: str, body: dict[str, Any] | None = None, **header: Any) -> str:
    """A token ``role``'s account accepts: its own algorithm and key (and kid, for JWKS)."""
    _, algorithms, stem = ROLES[role]
    alg = algorithms[0]
    key: Any = ctx.hmac_secret if stem is None else stem
    if role == "jwks":
        header.setdefault("kid", JWKS_EC_KID)
    return signed({"alg": alg, "typ": "JWT", **header}, body or payload(), alg, key)


def transit_jwe(
    ctx: Context,
    role: str,
    plaintext: str | bytes,
    *,
    algorithms: tuple[str, ...] = ("RSA-OAEP-256", "A256GCM"),
    key: RSAKey | ECKey | OctKey | None = None,
    **header: Any,
) -> str:
    """A JWE to ``role``'s Transit key (or ``key``), as any holder of the public key can
    make; the header defaults to ours (RSA-OAEP-256, A256GCM, kid, cty JWT)."""
    protected = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": ctx.kid(role), "cty": "JWT"}
    protected.update(header)
    protected = {name: value for name, value in protected.items() if value is not DROP}
    return jwe.encrypt_compact(
        protected, _text(plaintext), key or ctx.rsa(role), algorithms=list(algorithms)
    )


def customer_jwe(
    ctx: Context,
    plaintext: str | bytes,
    *,
    alg: str = "A256KW",
    enc: str = "A256GCM",
    key: bytes | None = None,
    **header: Any,
) -> str:
    """A customer-side JWE (shared symmetric key), by default the pinned A256KW + A256GCM."""
    extra = [header["zip"]] if "zip" in header else []
    return jwe.encrypt_compact(
        {"alg": alg, "enc": enc, "cty": "JWT", **header},
        _text(plaintext),
        OctKey.import_key(key or ctx.customer_key),
        algorithms=[alg, enc, *extra],
    )


def rewrite_header(token: str, **changes: Any) -> str:
    """``token`` with its protected header edited (:data:`DROP` removes a parameter).

    For a JWE this breaks the tag (the header is the AAD): only for cases refused before
    any decryption.
    """
    segments = token.split(".")
    header = json.loads(unb64(segments[0]))
    header.update(changes)
    header = {name: value for name, value in header.items() if value is not DROP}
    return ".".join([b64(_text(header)), *segments[1:]])
