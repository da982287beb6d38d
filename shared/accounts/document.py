"""Account documents: how a customer's tokens are checked, and the rules a document obeys.

A document is a msgspec Struct (stored as-is in KV v2 at ``accounts/<id>``). Types and
simple bounds are enforced whenever a document is decoded; :func:`validate_account` adds
the checks that need parsing (PEM against algorithms, secret lengths, URIs) and runs on
every write.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from shared.algorithms import (
    CUSTOMER_JWE_ALGS,
    CUSTOMER_JWE_ENCS,
    EC_CURVE_FOR_ALG,
    HMAC_MIN_SECRET_BYTES,
    JWE_CEK_BYTES,
    KW_KEY_BYTES,
    METHOD_ALGORITHMS,
    MIN_RSA_BITS,
    TRANSIT_KEY_TYPES,
)
from shared.errors import AccountInvalid
from shared.redaction import Redacted

__all__ = [
    "ACCOUNT_ID_PATTERN",
    "JWT_BEARER_POLICIES",
    "Account",
    "CustomerEncryption",
    "JwksValidation",
    "JwtBearerPolicy",
    "PublicKeyValidation",
    "RateLimit",
    "RateLimits",
    "SymmetricValidation",
    "TokenPolicy",
    "Validation",
    "check_account_id",
    "import_public_key",
    "is_loopback",
    "method_of",
    "transit_key_name",
    "validate_account",
]

# \Z, not $: msgspec searches with `re`, where `$` also matches before a final newline.
ACCOUNT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}\Z"
AccountId = Annotated[str, msgspec.Meta(pattern=ACCOUNT_ID_PATTERN)]
_ALGS = Annotated[tuple[str, ...], msgspec.Meta(min_length=1, max_length=9)]


class PublicKeyValidation(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="method", tag="public_key"
):
    """Tokens signed with the customer's private key; we hold the PEM public key."""

    algorithms: _ALGS
    public_key_pem: str


class SymmetricValidation(
    Redacted, frozen=True, forbid_unknown_fields=True, tag_field="method", tag="symmetric"
):
    """Tokens signed with an HMAC secret shared between the customer and us."""

    __secret_fields__ = frozenset({"secret"})

    algorithms: _ALGS
    secret: bytes


class JwksValidation(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="method", tag="jwks"
):
    """Tokens whose key we fetch from the customer's JWKS endpoint, chosen by ``kid``."""

    algorithms: _ALGS
    jwks_uri: str


Validation = PublicKeyValidation | SymmetricValidation | JwksValidation


def method_of(validation: Validation) -> str:
    """The validation method's name (``public_key``, ``symmetric``, ``jwks``): its tag."""
    return str(type(validation).__struct_config__.tag)


class CustomerEncryption(Redacted, frozen=True, forbid_unknown_fields=True):
    """A symmetric key the customer encrypts with on its side, with its pinned alg/enc."""

    __secret_fields__ = frozenset({"key"})

    alg: str
    enc: str
    key: bytes


#: What :attr:`TokenPolicy.jwt_bearer` may say.
JwtBearerPolicy = Literal["allowed", "require_aud", "disabled"]
JWT_BEARER_POLICIES: tuple[JwtBearerPolicy, ...] = ("allowed", "require_aud", "disabled")


class TokenPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Time rules for an account's tokens.

    Defaults follow DESIGN §4: 60 s leeway, ``exp`` optional, no maximum lifetime, because
    customers choose their expiry and e-mail campaigns need tokens valid for days.
    """

    leeway: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 60
    require_exp: bool = False
    #: When set, ``exp - iat`` (or ``exp - now`` without ``iat``) may not exceed it.
    max_lifetime: Annotated[int, msgspec.Meta(gt=0)] | None = None
    #: The Authorization API's jwt-bearer grant (a secure token bought a bearer):
    #: ``allowed`` (``aud`` optional), ``require_aud`` (the token's ``aud`` must name the
    #: token endpoint or issuer, so campaign tokens cannot be exchanged) or ``disabled``.
    jwt_bearer: JwtBearerPolicy = "allowed"


class RateLimit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A token bucket: ``per_second`` refilled each second (0: no limit), at most ``burst``
    at once after a quiet spell. Per instance of the Crypto API, like the default."""

    #: The ``le`` bound also refuses infinity and NaN (``ge`` alone lets infinity through);
    #: the bounds hold on write too, as :func:`validate_account` re-decodes the document.
    per_second: Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]
    burst: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]


class RateLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An account's own Crypto API limits; a missing one is the environment's default
    (``CRYPTO_RATE_LIMIT_*`` for single calls, ``CRYPTO_BATCH_RATE_LIMIT_*`` for the
    tokens of batch calls: two budgets, so a campaign never spends the live traffic's)."""

    single: RateLimit | None = None
    batch: RateLimit | None = None


class Account(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A customer account: its validation method, optional issuer and encryption key."""

    id: AccountId
    validation: Validation
    status: Literal["active", "disabled"] = "active"
    #: When set, tokens must carry exactly this ``iss``.
    issuer: str | None = None
    customer_encryption: CustomerEncryption | None = None
    policy: TokenPolicy = TokenPolicy()
    #: Transit key type for our JWEs (fixed when the key is created).
    key_type: str = "rsa-2048"
    #: The security team's limits for this account; documents written before the field
    #: existed have none, and get the environment's defaults.
    rate_limits: RateLimits = RateLimits()
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def active(self) -> bool:
        """False once the account is disabled."""
        return self.status == "active"


def transit_key_name(account_id: str) -> str:
    """The Transit key holding an account's JWE keys.

    Prefixed so policies can grant ``transit/decrypt/account-*`` without touching
    ``authz-signing`` (and an account named ``authz-signing`` cannot collide with it).
    """
    return f"account-{account_id}"


def check_account_id(account_id: str) -> str:
    """Return ``account_id`` if it is well formed; raise :class:`AccountInvalid` otherwise."""
    try:
        return msgspec.convert(account_id, AccountId)
    except msgspec.ValidationError:
        raise AccountInvalid(
            "account id must be 1 to 63 lowercase letters, digits, '-' or '_', starting with "
            f"a letter or digit; got {account_id!r}"
        ) from None


def import_public_key(pem: str | bytes) -> RSAKey | ECKey:
    """Parse a PEM public key (RSA or EC); raise :class:`AccountInvalid` if it is not one."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data:
        raise AccountInvalid("give the public key, not the private key: it never leaves you")
    try:
        loaded = load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AccountInvalid("public_key_pem is not a PEM-encoded RSA or EC public key") from None
    if isinstance(loaded, RSAPublicKey) and loaded.key_size < MIN_RSA_BITS:
        # Refused before joserfc sees it: joserfc only warns (SecurityWarning) about such keys.
        raise AccountInvalid(f"RSA key is {loaded.key_size} bits; at least {MIN_RSA_BITS} required")
    for kind in (RSAKey, ECKey):
        try:
            key = kind.import_key(data)
        except (JoseError, ValueError, TypeError):
            continue
        if not key.is_private:
            return key
    raise AccountInvalid("public_key_pem is not a PEM-encoded RSA or EC public key")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (http is allowed there only)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _validate_algorithms(method: str, algorithms: tuple[str, ...]) -> None:
    allowed = METHOD_ALGORITHMS[method]
    wrong = [a for a in algorithms if a not in allowed]
    if wrong:
        raise AccountInvalid(
            f"algorithms {wrong} are not allowed for method {method!r}; choose from {list(allowed)}"
        )
    if len(set(algorithms)) != len(algorithms):
        raise AccountInvalid("algorithms must not repeat")


def _validate_public_key(v: PublicKeyValidation) -> None:
    key = import_public_key(v.public_key_pem)
    if isinstance(key, RSAKey):
        bad = [a for a in v.algorithms if not a.startswith("RS")]
        if bad:
            raise AccountInvalid(f"an RSA public key cannot verify {bad}; use RS256/RS384/RS512")
        return  # its size was checked by import_public_key
    curve = key.curve_name
    bad = [a for a in v.algorithms if EC_CURVE_FOR_ALG.get(a) != curve]
    if bad:
        raise AccountInvalid(
            f"an EC {curve} public key cannot verify {bad}; "
            f"{curve} goes with {[a for a, c in EC_CURVE_FOR_ALG.items() if c == curve]}"
        )


def _validate_symmetric(v: SymmetricValidation) -> None:
    for alg in v.algorithms:
        need = HMAC_MIN_SECRET_BYTES[alg]
        if len(v.secret) < need:
            raise AccountInvalid(
                f"{alg} needs a secret of at least {need} bytes; this one has {len(v.secret)}"
            )


def _validate_jwks(v: JwksValidation, *, allow_loopback_http: bool) -> None:
    parts = urlsplit(v.jwks_uri)
    host = parts.hostname
    loopback = bool(host) and is_loopback(host or "")
    if parts.scheme == "http" and loopback and allow_loopback_http:
        return
    if parts.scheme != "https" or not host:
        allowed = "https" + (" (or http on loopback)" if allow_loopback_http else "")
        raise AccountInvalid(
            f"jwks_uri must be {allowed}, got {v.jwks_uri!r}; plain http to loopback needs "
            "JWKS_ALLOW_LOOPBACK_HTTP=1 (tests and local development only)"
        )
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            host.encode("idna")  # what the resolver will be given
        except UnicodeError:
            raise AccountInvalid(f"jwks_uri has an invalid host name: {host!r}") from None
        return  # a name: its addresses are checked each time it is connected to
    if not (ip.is_global or (loopback and allow_loopback_http)):
        raise AccountInvalid(f"jwks_uri must name a public host, not {ip}")


def _validate_customer_encryption(ce: CustomerEncryption) -> None:
    if ce.alg not in CUSTOMER_JWE_ALGS:
        raise AccountInvalid(f"customer encryption alg must be one of {list(CUSTOMER_JWE_ALGS)}")
    if ce.enc not in CUSTOMER_JWE_ENCS:
        raise AccountInvalid(f"customer encryption enc must be one of {list(CUSTOMER_JWE_ENCS)}")
    need = JWE_CEK_BYTES[ce.enc] if ce.alg == "dir" else KW_KEY_BYTES[ce.alg]
    if len(ce.key) != need:
        what = f"dir with {ce.enc}" if ce.alg == "dir" else ce.alg
        raise AccountInvalid(f"{what} needs a key of exactly {need} bytes; got {len(ce.key)}")


def validate_account(account: Account, *, allow_loopback_http: bool = False) -> Account:
    """Check everything about ``account`` that its types cannot; return it unchanged.

    ``allow_loopback_http``: a JWKS URL may be plain http on loopback (the
    ``JWKS_ALLOW_LOOPBACK_HTTP`` setting, for tests and local development).

    Raises:
        AccountInvalid: ``detail`` names the rule that failed.
    """
    check_account_id(account.id)
    try:
        # Bounds in the types (non-empty algorithms, leeway range...) are only enforced on
        # decoding: a document built in code must obey them too, or it is stored and then
        # cannot be read back.
        msgspec.convert(msgspec.to_builtins(account), Account)
    except msgspec.ValidationError as exc:
        raise AccountInvalid(str(exc)) from None
    v = account.validation
    method = method_of(v)
    _validate_algorithms(method, v.algorithms)
    if isinstance(v, PublicKeyValidation):
        _validate_public_key(v)
    elif isinstance(v, SymmetricValidation):
        _validate_symmetric(v)
    else:
        _validate_jwks(v, allow_loopback_http=allow_loopback_http)
    if account.customer_encryption is not None:
        _validate_customer_encryption(account.customer_encryption)
    if account.key_type not in TRANSIT_KEY_TYPES:
        raise AccountInvalid(f"key_type must be one of {list(TRANSIT_KEY_TYPES)}")
    if account.issuer is not None and not account.issuer.strip():
        raise AccountInvalid("issuer, when set, must not be blank")
    return account
