"""What an account looks like in a Keycloak realm, and how a realm's copy can drift.

An account is mirrored as a confidential client whose ``clientId`` is the account id
(Keycloak's admin REST API ``ClientRepresentation``). Attribute names are Keycloak's own:

=====================================  =========================================================
``clientAuthenticatorType``            ``client-jwt`` (public key, JWKS) or ``client-secret-jwt``
                                       (symmetric): ``JWTClientAuthenticator.PROVIDER_ID``,
                                       ``JWTClientSecretAuthenticator.PROVIDER_ID``
``use.jwks.url`` / ``jwks.url``        the customer's JWKS endpoint (``OIDCConfigAttributes``)
``jwt.credential.certificate``         the customer's public key, as an X.509 certificate
                                       (``JWTClientAuthenticator.CERTIFICATE_ATTR``)
``token.endpoint.auth.signing.alg``    the one algorithm Keycloak accepts for the client's
                                       assertions (``OIDCConfigAttributes``)
``access.token.header.type.rfc9068``   ``typ: at+jwt`` on its access tokens (Keycloak 26.2+,
                                       ``OIDCConfigAttributes.USE_RFC9068_ACCESS_TOKEN_HEADER_TYPE``)
=====================================  =========================================================

plus a protocol mapper ``oidc-audience-mapper`` adding the Crypto API's audience, the
realm's ``token:encrypt`` client scope as a default scope, and the service account on.

A public-key account holds a bare key, not a certificate; Keycloak reads only the public
key out of the certificate (``ClientPublicKeyLoader``: no chain, no validity check), so we
wrap the key in a certificate signed by a throwaway key. Drift is judged on the key inside,
never on the certificate bytes.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.accounts.document import (
    Account,
    JwksValidation,
    PublicKeyValidation,
    SymmetricValidation,
    method_of,
)
from shared.errors import AccountInvalid
from shared.wire import SCOPE_ENCRYPT

__all__ = [
    "AUDIENCE_MAPPER",
    "MANAGED_ATTRIBUTE",
    "SCOPE_NAME",
    "audience_mapper",
    "certificate_for",
    "client_drift",
    "desired_client",
    "key_id",
    "mapper_drift",
]

#: Our marker on clients we manage: we never take over a client that lacks it.
MANAGED_ATTRIBUTE: Final = "secure-token.account"
AUDIENCE_MAPPER: Final = "secure-token-audience"
#: The realm's client scope that puts ``token:encrypt`` in ``scope`` (deploy/keycloak).
SCOPE_NAME: Final = SCOPE_ENCRYPT
_AUTHENTICATOR: Final = {
    "public_key": "client-jwt",
    "jwks": "client-jwt",
    "symmetric": "client-secret-jwt",
}
_CERTIFICATE: Final = "jwt.credential.certificate"
_SWITCHES: Final = (
    "enabled",
    "publicClient",
    "bearerOnly",
    "standardFlowEnabled",
    "implicitFlowEnabled",
    "directAccessGrantsEnabled",
    "serviceAccountsEnabled",
    "clientAuthenticatorType",
)


def _public_der(pem: str) -> bytes:
    key = serialization.load_pem_public_key(pem.encode())
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(pem: str) -> str:
    """The ``kid`` Keycloak gives a client's certificate key: base64url(SHA-256 of the
    DER SubjectPublicKeyInfo) (``KeyUtils.createKeyId``). A public-key account's client
    assertions must carry this ``kid``, or none."""
    digest = hashlib.sha256(_public_der(pem)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def certificate_for(account_id: str, pem: str) -> str:
    """The account's public key in an X.509 certificate, base64 DER (no PEM armour), as
    Keycloak stores ``jwt.credential.certificate``."""
    public = serialization.load_pem_public_key(pem.encode())
    issuer_key = ec.generate_private_key(ec.SECP256R1())  # throwaway: only the key counts
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, account_id)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secure-token tokenctl")]))
        .public_key(public)  # type: ignore[arg-type]  # any RSA/EC public key
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(9999, 12, 31, tzinfo=datetime.UTC))
        .sign(issuer_key, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def _certificate_key(value: object) -> bytes | None:
    """The DER public key inside a stored certificate, or None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(value))
        return certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except ValueError:
        return None


def _secret_text(v: SymmetricValidation) -> str:
    try:
        return v.secret.decode("utf-8")
    except UnicodeDecodeError:
        raise AccountInvalid(
            "Keycloak keeps client secrets as text: a symmetric account mirrored into "
            "Keycloak needs a UTF-8 secret (tokenctl's generated secrets are)"
        ) from None


def desired_client(account: Account) -> dict[str, Any]:
    """The ``ClientRepresentation`` of ``account``; attributes set to None must be absent
    (Keycloak removes an attribute sent as null on update).

    Raises:
        AccountInvalid: a symmetric account whose secret is not UTF-8 text.
    """
    v = account.validation
    attributes: dict[str, str | None] = {
        MANAGED_ATTRIBUTE: account.id,
        # Keycloak pins one algorithm per client: the account's first.
        "token.endpoint.auth.signing.alg": v.algorithms[0],
        "access.token.header.type.rfc9068": "true",
        "use.jwks.url": "true" if isinstance(v, JwksValidation) else "false",
        "jwks.url": v.jwks_uri if isinstance(v, JwksValidation) else None,
        _CERTIFICATE: (
            certificate_for(account.id, v.public_key_pem)
            if isinstance(v, PublicKeyValidation)
            else None
        ),
    }
    client: dict[str, Any] = {
        "clientId": account.id,
        "name": f"secure-token account {account.id}",
        "description": "Managed by tokenctl (secure-token services); edit the account "
        "in Vault, not here: changes made here are reported as drift.",
        "protocol": "openid-connect",
        "enabled": account.active,
        "publicClient": False,
        "bearerOnly": False,
        "standardFlowEnabled": False,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": True,
        "clientAuthenticatorType": _AUTHENTICATOR[method_of(v)],
        "attributes": attributes,
    }
    if isinstance(v, SymmetricValidation):
        client["secret"] = _secret_text(v)
    return client


def audience_mapper(audience: str) -> dict[str, Any]:
    """The protocol mapper putting ``audience`` in access tokens' ``aud``
    (``AudienceProtocolMapper``: ``oidc-audience-mapper``, ``included.custom.audience``)."""
    return {
        "name": AUDIENCE_MAPPER,
        "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "config": {
            "included.custom.audience": audience,
            "access.token.claim": "true",
            "introspection.token.claim": "true",
            "id.token.claim": "false",
        },
    }


def client_drift(desired: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """How the realm's client differs from what the account says (empty: in sync).
    Secrets are compared, never shown."""
    drift = [
        f"{name}: Keycloak has {actual.get(name)!r}, the account says {desired[name]!r}"
        for name in _SWITCHES
        if actual.get(name) != desired[name]
    ]
    have = actual.get("attributes") or {}
    for name, want in desired["attributes"].items():
        got = have.get(name) or None
        if name == _CERTIFICATE:
            same = (got is None and want is None) or (
                got is not None
                and want is not None
                and _certificate_key(got) == _certificate_key(want)
            )
            if not same:
                drift.append(f"{name}: the key Keycloak holds is not the account's")
        elif got != want:
            drift.append(f"attribute {name}: Keycloak has {got!r}, the account says {want!r}")
    if "secret" in desired:
        secret = actual.get("secret")
        if not isinstance(secret, str):
            drift.append("secret: Keycloak did not show it; it cannot be compared")
        elif not hmac.compare_digest(secret.encode(), desired["secret"].encode()):
            drift.append("secret: Keycloak's differs from the account's")
    return drift


def mapper_drift(mappers: list[dict[str, Any]], audience: str) -> str | None:
    """What is wrong with the client's audience mapper (None: present and right)."""
    want = audience_mapper(audience)
    for mapper in mappers:
        if mapper.get("name") == AUDIENCE_MAPPER:
            config = mapper.get("config") or {}
            if mapper.get("protocolMapper") != want["protocolMapper"] or any(
                config.get(k) != v for k, v in want["config"].items()
            ):
                return f"mapper {AUDIENCE_MAPPER}: not the audience {audience!r} in access tokens"
            return None
    return f"mapper {AUDIENCE_MAPPER}: missing (access tokens lack the audience {audience!r})"
