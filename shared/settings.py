"""Configuration, read from the environment once, by whoever builds the objects.

Nothing here runs at import time: call :func:`Settings.from_env` (or build a
:class:`Settings` directly in tests).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec

from shared.errors import ConfigurationError
from shared.redaction import Redacted

__all__ = ["Settings", "read_secret_file"]

_MOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

# Environment name -> Settings field. Names from DESIGN §9, plus the standard Vault client
# ones (VAULT_CLIENT_TIMEOUT, VAULT_CACERT) so operators can reuse their usual environment.
_ENV = {
    "VAULT_ADDR": "vault_addr",
    "VAULT_TOKEN": "vault_token",
    "VAULT_ROLE_ID": "vault_role_id",
    "VAULT_SECRET_ID": "vault_secret_id",
    "VAULT_KV_MOUNT": "kv_mount",
    "VAULT_TRANSIT_MOUNT": "transit_mount",
    "VAULT_CLIENT_TIMEOUT": "vault_timeout",
    "VAULT_CACERT": "vault_cacert",
    "VERIFY_DEADLINE_SECONDS": "verify_deadline",
    "AUTHZ_ISSUER": "authz_issuer",
    "CRYPTO_AUDIENCE": "crypto_audience",
    "AUTHZ_JWKS_URL": "authz_jwks_url",
    "JWKS_ALLOW_LOOPBACK_HTTP": "jwks_allow_loopback_http",
    "REDIS_URL": "redis_url",
    "PLAYER_PUBLIC_URL": "player_public_url",
    "PLAYER_RATE_LIMIT_PER_SECOND": "player_rate_per_second",
    "PLAYER_RATE_LIMIT_BURST": "player_rate_burst",
    "WEBHOOK_RETRY_BASE_SECONDS": "webhook_retry_base",
    "WEBHOOK_PARK_AFTER_SECONDS": "webhook_park_after",
    "WEBHOOK_CLAIM_IDLE_SECONDS": "webhook_claim_idle",
    "AUTHZ_SINGLE_INSTANCE": "authz_single_instance",
    "AUTHZ_RATE_LIMIT_PER_SECOND": "rate_limit_per_second",
    "AUTHZ_RATE_LIMIT_BURST": "rate_limit_burst",
    "AUTHZ_JWT_BEARER_RATE_LIMIT_PER_SECOND": "jwt_bearer_rate_per_second",
    "AUTHZ_JWT_BEARER_RATE_LIMIT_BURST": "jwt_bearer_rate_burst",
    "AUTHZ_ASSERTION_RATE_LIMIT_PER_SECOND": "assertion_rate_per_second",
    "AUTHZ_ASSERTION_RATE_LIMIT_BURST": "assertion_rate_burst",
    "AUTHZ_TOKEN_LIFETIME": "bearer_lifetime",
    "CRYPTO_BATCH_MAX": "batch_max",
    "CRYPTO_RATE_LIMIT_PER_SECOND": "crypto_rate_per_second",
    "CRYPTO_RATE_LIMIT_BURST": "crypto_rate_burst",
    "CRYPTO_BATCH_RATE_LIMIT_PER_SECOND": "crypto_batch_rate_per_second",
    "CRYPTO_BATCH_RATE_LIMIT_BURST": "crypto_batch_rate_burst",
    "CRYPTO_JWKS_RATE_LIMIT_PER_SECOND": "crypto_jwks_rate_per_second",
    "CRYPTO_JWKS_RATE_LIMIT_BURST": "crypto_jwks_rate_burst",
    # The optional Keycloak backend (shared/keycloak/): who issues bearers, whom the Crypto
    # API trusts, where the realm is, and tokenctl's admin credentials.
    "AUTHZ_BACKEND": "authz_backend",
    "CRYPTO_TRUSTED_ISSUERS": "crypto_trusted_issuers",
    "KEYCLOAK_URL": "keycloak_url",
    "KEYCLOAK_REALM": "keycloak_realm",
    "KEYCLOAK_ISSUER": "keycloak_issuer",
    "KEYCLOAK_CACERT": "keycloak_cacert",
    "KEYCLOAK_TIMEOUT": "keycloak_timeout",
    "KEYCLOAK_BROKER_CLIENT_ID": "keycloak_broker_client_id",
    "KEYCLOAK_IDP_ALIAS": "keycloak_idp_alias",
    "KEYCLOAK_ADMIN_REALM": "keycloak_admin_realm",
    "KEYCLOAK_ADMIN_CLIENT_ID": "keycloak_admin_client_id",
    "KEYCLOAK_ADMIN_CLIENT_SECRET": "keycloak_admin_client_secret",
    "KEYCLOAK_ADMIN_USERNAME": "keycloak_admin_username",
    "KEYCLOAK_ADMIN_PASSWORD": "keycloak_admin_password",
    "DOCS_ASSETS": "docs_assets",
}
_FIELD_TO_ENV = {v: k for k, v in _ENV.items()}
#: Credentials may also come from a file named by ``<NAME>_FILE`` (the container convention:
#: secrets mounted as files stay out of ``docker inspect`` and process listings).
_FILE_ENV = (
    "VAULT_TOKEN",
    "VAULT_ROLE_ID",
    "VAULT_SECRET_ID",
    "KEYCLOAK_ADMIN_CLIENT_SECRET",
    "KEYCLOAK_ADMIN_PASSWORD",
)
#: ``AUTHZ_BACKEND`` values, and what ``CRYPTO_TRUSTED_ISSUERS`` may list.
_BACKENDS = ("builtin", "keycloak")


def _check_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http(s) URL, got {value!r}")


def _split_addrs(value: str) -> tuple[str, ...]:
    """``VAULT_ADDR`` as a tuple: one URL, or several separated by commas (the nodes of an
    HA cluster, tried in order; see :class:`shared.vault.client.Vault`)."""
    addrs = tuple(part.strip() for part in value.split(","))
    for addr in addrs:
        if not addr:
            raise ValueError(f"VAULT_ADDR has an empty entry: {value!r}")
        _check_url("VAULT_ADDR", addr)
    if len(set(addrs)) != len(addrs):
        raise ValueError(f"VAULT_ADDR names an address twice: {value!r}")
    return addrs


def _check_keycloak(settings: Settings) -> None:
    """The Keycloak settings hang together (only checked when something uses them)."""
    if settings.keycloak_url is not None:
        _check_url("KEYCLOAK_URL", settings.keycloak_url)
    if settings.keycloak_issuer is not None:
        _check_url("KEYCLOAK_ISSUER", settings.keycloak_issuer)
    trusted = settings.trusted_issuers
    if not trusted or any(name not in _BACKENDS for name in trusted):
        raise ValueError(
            f"CRYPTO_TRUSTED_ISSUERS must list one or both of {list(_BACKENDS)}, "
            f"got {settings.crypto_trusted_issuers!r}"
        )
    needs_realm = settings.authz_backend == "keycloak" or "keycloak" in trusted
    if needs_realm and not (settings.keycloak_url and settings.keycloak_realm):
        raise ValueError("the Keycloak backend needs KEYCLOAK_URL and KEYCLOAK_REALM")
    pairs = (
        ("KEYCLOAK_ADMIN_CLIENT_ID", "KEYCLOAK_ADMIN_CLIENT_SECRET"),
        ("KEYCLOAK_ADMIN_USERNAME", "KEYCLOAK_ADMIN_PASSWORD"),
    )
    for first, second in pairs:
        if (getattr(settings, _ENV[first]) is None) != (getattr(settings, _ENV[second]) is None):
            raise ValueError(f"{first} and {second} must be set together")


def read_secret_file(name: str, path: str) -> str:
    """The stripped text of a credential file; ConfigurationError naming ``name`` if not."""
    try:
        value = Path(path).read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigurationError(f"{name}: cannot read {path!r}: {reason}") from None
    if not value:
        raise ConfigurationError(f"{name}: {path!r} is empty")
    return value


class Settings(Redacted, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Connection and cache settings shared by the services, the player and the CLI."""

    # Settings end up in logs and tracebacks: a Redis URL may carry a password.
    __secret_fields__ = frozenset(
        {
            "vault_token",
            "vault_secret_id",
            "redis_url",
            "keycloak_admin_client_secret",
            "keycloak_admin_password",
        }
    )

    #: One URL, or several separated by commas: the nodes of an HA cluster (any node will
    #: do: standbys serve reads and forward writes); see :attr:`vault_addrs`.
    vault_addr: str = "http://127.0.0.1:8200"
    vault_token: str | None = None
    vault_role_id: str | None = None
    vault_secret_id: str | None = None
    #: Where ``vault_secret_id`` came from (``VAULT_SECRET_ID_FILE``): read again at each
    #: AppRole login, so a secret id rotated on disk (bootstrap revokes the old one) is
    #: picked up without a restart.
    vault_secret_id_file: str | None = None
    kv_mount: str = "secret"
    transit_mount: str = "transit"
    vault_timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    vault_cacert: str | None = None
    #: How long account documents and public keys are trusted before a refresh.
    cache_ttl: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    #: How long a cached entry may still be served while Vault cannot be reached.
    cache_stale_if_error: Annotated[float, msgspec.Meta(ge=0)] = 3600.0
    #: The longest one verification (or one encryption) waits for Vault, all its reads
    #: together; then it is answered UNKNOWN / 503 (retryable). None: the Vault timeout
    #: plus a second (see :attr:`verification_deadline`).
    verify_deadline: Annotated[float, msgspec.Meta(gt=0, le=600)] | None = None
    authz_issuer: str | None = None
    crypto_audience: str = "crypto-api"
    authz_jwks_url: str | None = None
    #: Customers' JWKS URLs may be plain http on loopback (127.0.0.1, ::1, localhost), and
    #: resolve to loopback: for tests and the dev stack only. Otherwise they must be https
    #: to a public address (checked on the address actually connected to).
    jwks_allow_loopback_http: bool = False
    redis_url: str | None = None
    #: The player's public base URL (its pages' origin; the SSO redirect_uri's base).
    player_public_url: str | None = None
    #: The player's identifications (``/v1/identify``, a campaign page or message with a
    #: token) and participations per account, refilled each second (0 disables): one budget
    #: for every instance (Redis). The Crypto API's default pace for single calls, at which
    #: a customer makes JWEs anyway; it keeps one account's flood of tokens from taking
    #: every worker's CPU from the others.
    player_rate_per_second: Annotated[float, msgspec.Meta(ge=0)] = 500.0
    player_rate_burst: Annotated[int, msgspec.Meta(ge=1)] = 1000
    #: The player's webhooks: the first retry's delay, doubled at each failure (to an hour);
    webhook_retry_base: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 5.0
    #: how long an event is retried before it is parked (25 h: "at least a day");
    webhook_park_after: Annotated[float, msgspec.Meta(gt=0)] = 90_000.0
    #: and how long a delivery may stay unacknowledged before another worker takes it over
    #: (its worker died mid-delivery).
    webhook_claim_idle: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0
    #: The Authorization API may run without ``REDIS_URL`` only when this says it is the one
    #: and only instance (one process): each instance without Redis has its own replay store.
    authz_single_instance: bool = False
    #: Per-account client_credentials requests refilled each second (0 disables the
    #: limit)...
    rate_limit_per_second: Annotated[float, msgspec.Meta(ge=0)] = 50.0
    #: ...and how many may arrive at once after a quiet spell.
    rate_limit_burst: Annotated[int, msgspec.Meta(ge=1)] = 100
    #: Per-account jwt-bearer exchanges, a budget of their own: whoever holds a secure token
    #: (a participant, from a campaign URL) cannot spend the customer's client_credentials.
    jwt_bearer_rate_per_second: Annotated[float, msgspec.Meta(ge=0)] = 50.0
    jwt_bearer_rate_burst: Annotated[int, msgspec.Meta(ge=1)] = 100
    #: Exchanges of one secure token (keyed by a hash of it): 3 a minute after a burst of 5,
    #: plenty for a bearer that lives 300 s.
    assertion_rate_per_second: Annotated[float, msgspec.Meta(ge=0)] = 0.05
    assertion_rate_burst: Annotated[int, msgspec.Meta(ge=1)] = 5
    #: Seconds a bearer of the Authorization API is valid (RFC 9068 ``exp - iat``).
    bearer_lifetime: Annotated[int, msgspec.Meta(ge=30, le=3600)] = 300
    #: Most tokens one /v1/encrypt/batch call may carry.
    batch_max: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1000
    #: Per-account ``/v1/encrypt`` calls refilled each second, per process (0 disables):
    #: the default for accounts whose document sets no ``rate_limits.single``.
    crypto_rate_per_second: Annotated[float, msgspec.Meta(ge=0)] = 500.0
    crypto_rate_burst: Annotated[int, msgspec.Meta(ge=1)] = 1000
    #: Per-account tokens of ``/v1/encrypt/batch`` calls, a budget apart (a campaign never
    #: spends the live traffic's): ten times the single calls', above what one worker
    #: seals in a second (3.2k rows/s through encrypt-file here), so a campaign runs at the
    #: service's speed by default (docs/decisions.md). The default for documents without
    #: ``rate_limits.batch``.
    crypto_batch_rate_per_second: Annotated[float, msgspec.Meta(ge=0)] = 5000.0
    crypto_batch_rate_burst: Annotated[int, msgspec.Meta(ge=1)] = 10_000
    #: Per client address, the public account key sets (``GET /v1/accounts/{id}/jwks.json``):
    #: no credential is needed, and each unknown id costs a Vault read once per cache TTL,
    #: so one address may not enumerate ids at will. A key set is fetched rarely (it is
    #: cacheable for a minute): 5 a second after a burst of 20 is plenty for one client.
    crypto_jwks_rate_per_second: Annotated[float, msgspec.Meta(ge=0)] = 5.0
    crypto_jwks_rate_burst: Annotated[int, msgspec.Meta(ge=1)] = 20
    #: Who issues bearers: ``builtin`` (Transit-signed, the default) or ``keycloak``.
    authz_backend: Literal["builtin", "keycloak"] = "builtin"
    #: Whose bearers the Crypto API accepts: ``builtin``, ``keycloak`` or both (comma list).
    crypto_trusted_issuers: str = "builtin"
    #: Keycloak's base URL as this service reaches it (``https://kc.example``).
    keycloak_url: str | None = None
    keycloak_realm: str | None = None
    #: The realm's ``iss`` when Keycloak's public hostname differs from ``keycloak_url``;
    #: by default ``$KEYCLOAK_URL/realms/$KEYCLOAK_REALM``.
    keycloak_issuer: str | None = None
    keycloak_cacert: str | None = None
    keycloak_timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    #: The realm's client the Authorization API exchanges verified secure tokens through.
    keycloak_broker_client_id: str = "secure-token-broker"
    #: The realm's identity provider that trusts the Authorization API's assertions.
    keycloak_idp_alias: str = "secure-token-authz"
    #: tokenctl's admin login: a service-account client, or a user, of this realm.
    keycloak_admin_realm: str = "master"
    keycloak_admin_client_id: str | None = None
    keycloak_admin_client_secret: str | None = None
    keycloak_admin_username: str | None = None
    keycloak_admin_password: str | None = None
    #: Where the docs pages (/schema) load their scripts: ``local`` (served by the API,
    #: pinned; works on a closed network) or ``cdn`` (jsDelivr, pinned, with SRI hashes).
    docs_assets: Literal["local", "cdn"] = "local"

    def __post_init__(self) -> None:
        _split_addrs(self.vault_addr)
        for field in ("kv_mount", "transit_mount"):
            if not _MOUNT.fullmatch(getattr(self, field)):
                raise ValueError(
                    f"{_FIELD_TO_ENV[field]} must be a plain mount name "
                    f"(letters, digits, '-', '_'), got {getattr(self, field)!r}"
                )
        if (self.vault_role_id is None) != (self.vault_secret_id is None):
            raise ValueError("VAULT_ROLE_ID and VAULT_SECRET_ID must be set together")
        if self.authz_issuer is not None:
            _check_url("AUTHZ_ISSUER", self.authz_issuer)
        if self.authz_jwks_url is not None:
            _check_url("AUTHZ_JWKS_URL", self.authz_jwks_url)
        if self.player_public_url is not None:
            _check_url("PLAYER_PUBLIC_URL", self.player_public_url)
        # msgspec's ``ge=0`` lets ``inf`` through; "no limit" is spelled 0.
        for field in (
            "rate_limit_per_second",
            "jwt_bearer_rate_per_second",
            "assertion_rate_per_second",
            "crypto_rate_per_second",
            "crypto_batch_rate_per_second",
            "crypto_jwks_rate_per_second",
            "player_rate_per_second",
        ):
            if not math.isfinite(getattr(self, field)):
                raise ValueError(f"{_FIELD_TO_ENV[field]} must be a finite number (0 disables)")
        _check_keycloak(self)

    @property
    def jwks_url(self) -> str | None:
        """``AUTHZ_JWKS_URL``, by default ``$AUTHZ_ISSUER/.well-known/jwks.json``."""
        if self.authz_jwks_url:
            return self.authz_jwks_url
        if self.authz_issuer:
            return f"{self.authz_issuer.rstrip('/')}/.well-known/jwks.json"
        return None

    @property
    def trusted_issuers(self) -> tuple[str, ...]:
        """``CRYPTO_TRUSTED_ISSUERS`` as names (``builtin``, ``keycloak``), in order."""
        return tuple(
            dict.fromkeys(p.strip() for p in self.crypto_trusted_issuers.split(",") if p.strip())
        )

    @property
    def keycloak_realm_issuer(self) -> str | None:
        """The realm's ``iss``: ``KEYCLOAK_ISSUER``, or ``$KEYCLOAK_URL/realms/$KEYCLOAK_REALM``."""
        if self.keycloak_issuer:
            return self.keycloak_issuer.rstrip("/")
        if self.keycloak_url and self.keycloak_realm:
            return f"{self.keycloak_url.rstrip('/')}/realms/{self.keycloak_realm}"
        return None

    @property
    def verification_deadline(self) -> float:
        """``VERIFY_DEADLINE_SECONDS``, by default ``VAULT_CLIENT_TIMEOUT`` + 1 s: one
        Vault read that times out still gets its own answer (a 503 saying so)."""
        if self.verify_deadline is not None:
            return self.verify_deadline
        return self.vault_timeout + 1.0

    @property
    def vault_addrs(self) -> tuple[str, ...]:
        """The Vault addresses of ``VAULT_ADDR``, in order (one, unless it lists several)."""
        return _split_addrs(self.vault_addr)

    @property
    def uses_approle(self) -> bool:
        """True when the services log in with AppRole rather than a token."""
        return self.vault_role_id is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from environment variables (empty values count as unset).

        Raises:
            ConfigurationError: a variable has a bad value; the message names it.
        """
        env = os.environ if environ is None else environ
        raw: dict[str, object] = {
            field: env[name] for name, field in _ENV.items() if env.get(name, "").strip()
        }
        for name in _FILE_ENV:
            path = env.get(f"{name}_FILE", "").strip()
            if not path:
                continue
            if _ENV[name] in raw:
                raise ConfigurationError(f"set {name} or {name}_FILE, not both")
            raw[_ENV[name]] = read_secret_file(f"{name}_FILE", path)
            if name == "VAULT_SECRET_ID":
                raw["vault_secret_id_file"] = path
        raw.update(overrides)
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            message = str(exc)
            for field, name in _FIELD_TO_ENV.items():
                message = message.replace(f"$.{field}", name)
            raise ConfigurationError(message) from exc
