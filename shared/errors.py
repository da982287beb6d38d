"""Every error of the library, the services and the client, drawn once, with its code.

The :class:`ServiceError` tree: the classes defined here, and the few that belong to one
part (the module is named on the right)::

    ServiceError                      INTERNAL (a bare one is a bug); code, detail, retryable
    ├── TokenError                    a token was refused (DESIGN §2 codes)
    │   ├── TokenEmpty                TOKEN_EMPTY
    │   ├── TokenInvalidFormat        TOKEN_INVALID_FORMAT
    │   ├── TokenDecryptionFailed     TOKEN_DECRYPTION_FAILED
    │   ├── TokenInvalidSignature     TOKEN_INVALID_SIGNATURE
    │   ├── TokenExpired              TOKEN_EXPIRED
    │   ├── TokenInvalidClaims        TOKEN_INVALID_CLAIMS
    │   ├── VerificationUnavailable   UNKNOWN (not the token's fault; always retryable)
    │   └── JwksRefused               JWKS_REFUSED (the account's JWKS endpoint answered a
    │                                 status no retry fixes: 3xx, 4xx but 408/425/429)
    ├── RateLimited                   RATE_LIMITED      (retryable; retry_after seconds)
    ├── ConfigurationError            CONFIGURATION_INVALID
    ├── AccountError                  ACCOUNT_ERROR
    │   ├── AccountInvalid            ACCOUNT_INVALID   (a document fails validation)
    │   ├── AccountNotFound           ACCOUNT_NOT_FOUND
    │   ├── AccountExists             ACCOUNT_EXISTS
    │   ├── AccountDisabled           ACCOUNT_DISABLED  (a valid bearer, a disabled account)
    │   └── AccountConflict           ACCOUNT_CONFLICT  (changed concurrently; re-read and retry)
    ├── KeyOperationRefused           KEY_OPERATION_REFUSED (e.g. retiring the latest version)
    ├── JwksUnavailable               JWKS_UNAVAILABLE  (retryable)
    │   └── JwksBusy                  JWKS_BUSY         (too many callers wait on it; retryable)
    ├── ReplayStoreUnavailable        REPLAY_STORE_UNAVAILABLE (retryable; fail closed)
    ├── VaultError                    VAULT_ERROR
    │   ├── VaultUnavailable          VAULT_UNAVAILABLE (unreachable, timed out; retryable)
    │   │   └── VaultSealed           VAULT_SEALED      (retryable)
    │   ├── VaultForbidden            VAULT_FORBIDDEN
    │   ├── VaultNotFound             VAULT_NOT_FOUND
    │   └── TransitDecryptRefused     VAULT_DECRYPT_REFUSED      shared.vault
    ├── BearerInvalid                 BEARER_INVALID    (401)    shared.server.bearer_check
    │   └── BearerMissing             BEARER_INVALID    (401 without an error, RFC 6750 §3.1)
    ├── BearerScopeMissing            INSUFFICIENT_SCOPE (403)   shared.server.bearer_check
    ├── RequestInvalid                REQUEST_INVALID   (400: a request's body shape)
    │   └── RequestTooLarge           PAYLOAD_TOO_LARGE (413)    crypto_api.errors
    ├── InputInvalid                  INPUT_INVALID     (a bulk input file)   shared.client
    ├── OutputInvalid                 OUTPUT_INVALID    (a bulk output file)  shared.client
    ├── PlayerSettingsInvalid         PLAYER_SETTINGS_INVALID    shared.identity
    ├── ProfileUnauthorized           PROFILE_UNAUTHORIZED (the customer's profile API
    │                                 refused the token's access_token)  shared.identity
    ├── CampaignNotFound              CAMPAIGN_NOT_FOUND (404)   shared.identity
    ├── NotEligible                   NOT_ELIGIBLE (limit.canPlay false)   shared.identity
    ├── ParticipationLimitReached     PARTICIPATION_LIMIT_REACHED (limit.nb) shared.identity
    ├── FormInvalid                   FORM_INVALID (a form's token refused) shared.identity
    │   ├── FormUsed                  FORM_USED         (submitted already)
    │   └── FormCrossSite             FORM_CROSS_SITE   (posted from another site)
    ├── SsoFailed                     SSO_FAILED (single sign-on failed) shared.identity
    │   ├── SsoStateInvalid           SSO_STATE_INVALID (unknown, used, other browser)
    │   ├── SsoIssuerMismatch         SSO_ISSUER_MISMATCH (RFC 9207 mix-up)
    │   ├── SsoDenied                 SSO_DENIED        (access_denied)
    │   └── SsoUnavailable            SSO_UNAVAILABLE   (IdP down or slow; retryable)
    └── KeycloakError                 KEYCLOAK_ERROR             shared.keycloak
        ├── KeycloakUnavailable       KEYCLOAK_UNAVAILABLE (retryable)
        ├── KeycloakRefused           KEYCLOAK_REFUSED  (a 4xx; its OAuth error kept)
        └── KeycloakConflict          KEYCLOAK_CONFLICT (a realm object that is not ours)

Two trees outside it, each at one edge of the system::

    OAuthError                        shared.server.oauth_error: what /oauth/token answers
    │   error: invalid_request | invalid_client | invalid_grant | unsupported_grant_type |
    │          invalid_scope | unauthorized_client | slow_down | temporarily_unavailable
    │          (shared.wire.OAuthErrorCode)
    │   code:  a code of the tree above, or KEYCLOAK_MISCONFIGURED (an issuer backend
    │          that cannot sign), or none
    └── HeaderAuthRefused             invalid_client, with a challenge   authz_api.errors
                                      (the client tried the Authorization header)

    ApiError                          shared.client: what a caller of the two APIs sees
    ├── ApiRefused                    the API said no; the same call fails again
    │                                 (API_URL_INVALID: a URL that cannot be used;
    │                                 RESPONSE_INVALID: an answer not as documented;
    │                                 NO_CREDENTIALS: nothing left to get a bearer with)
    └── ApiUnavailable                retry later (API_UNREACHABLE, API_TIMEOUT)
        └── ApiRateLimited            429: wait ``retry_after`` seconds

Codes answered outside this tree: ``SATURATED`` (readiness: every worker thread busy) and
``SIGNER_DOWN`` (authz readiness: the bearer signer cannot sign), both raised as
``shared.web.NotReady``; ``HEADERS_TOO_LARGE`` (431 from ``tokenctl serve``); ``NOT_FOUND`` and
``METHOD_NOT_ALLOWED`` (the Crypto API's problem for a framework 404/405); the client's
``HTTP_<status>`` when an answer carries no code; two of ``tokenctl``'s ``--json``
summaries: ``ROWS_NOT_DONE`` (``encrypt-file`` left rows unencrypted) and
``KEYCLOAK_CHECK_FAILED`` (``keycloak check``); and ``tokenctl``'s ``USAGE_ERROR`` (exit 2:
a typing mistake, ``shared.cli._output.UsageError``, never raised outside the CLI).
``tests/shared/test_errors.py`` checks that every code is unique to its class and drawn here.

``verify()`` only ever raises :class:`TokenError` subclasses: infrastructure failures
underneath (Vault, a JWKS endpoint) surface as :class:`VerificationUnavailable` with the
original error chained as ``__cause__``.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccountConflict",
    "AccountDisabled",
    "AccountError",
    "AccountExists",
    "AccountInvalid",
    "AccountNotFound",
    "ConfigurationError",
    "JwksBusy",
    "JwksRefused",
    "JwksUnavailable",
    "KeyOperationRefused",
    "RateLimited",
    "ReplayStoreUnavailable",
    "RequestInvalid",
    "ServiceError",
    "TokenDecryptionFailed",
    "TokenEmpty",
    "TokenError",
    "TokenExpired",
    "TokenInvalidClaims",
    "TokenInvalidFormat",
    "TokenInvalidSignature",
    "VaultError",
    "VaultForbidden",
    "VaultNotFound",
    "VaultSealed",
    "VaultUnavailable",
    "VerificationUnavailable",
]


class ServiceError(Exception):
    """Base of every error we raise: a stable ``code``, a human ``detail`` and, when the
    error knows how long a retry should wait, ``retry_after`` seconds."""

    code: ClassVar[str] = "INTERNAL"
    retryable: ClassVar[bool] = False

    def __init__(self, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        #: Seconds the caller should wait before retrying (``Retry-After``); None leaves the
        #: wait to whoever answers (the apps send ``shared.wire.RETRY_AFTER`` for outages).
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class TokenError(ServiceError):
    """A token was refused; ``code`` is one of DESIGN §2's codes."""


class TokenEmpty(TokenError):
    """No token, or only whitespace."""

    code = "TOKEN_EMPTY"


class TokenInvalidFormat(TokenError):
    """Not a well-formed compact JWS/JWE, or a header we refuse."""

    code = "TOKEN_INVALID_FORMAT"


class TokenDecryptionFailed(TokenError):
    """A JWE that cannot be opened for this account."""

    code = "TOKEN_DECRYPTION_FAILED"


class TokenInvalidSignature(TokenError):
    """The JWS signature does not verify with the account's pinned method."""

    code = "TOKEN_INVALID_SIGNATURE"


class TokenExpired(TokenError):
    """``exp`` is in the past beyond the account's leeway."""

    code = "TOKEN_EXPIRED"


class TokenInvalidClaims(TokenError):
    """A claim is missing, mistyped or does not match what the account expects."""

    code = "TOKEN_INVALID_CLAIMS"


class VerificationUnavailable(TokenError):
    """The token could not be checked for a reason that is not its fault; retry later."""

    code = "UNKNOWN"
    retryable = True


class JwksRefused(TokenError):
    """The account's JWKS endpoint answered a status that says its URL is wrong or closed
    to us (a redirect, which we never follow; 401, 403, 404, 410...): the account or the
    endpoint must be fixed, and a retry will not help. Not the token's fault either."""

    code = "JWKS_REFUSED"


class RateLimited(ServiceError):
    """Too many calls for this account (or address); ``retry_after`` seconds."""

    code = "RATE_LIMITED"
    retryable = True

    retry_after: int

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)


class ConfigurationError(ServiceError):
    """A setting (environment variable or argument) has a bad value."""

    code = "CONFIGURATION_INVALID"


class AccountError(ServiceError):
    """Base for account registry errors."""

    code = "ACCOUNT_ERROR"


class AccountInvalid(AccountError):
    """An account document fails validation; ``detail`` says which rule."""

    code = "ACCOUNT_INVALID"


class AccountNotFound(AccountError):
    """No account with that id."""

    code = "ACCOUNT_NOT_FOUND"


class AccountExists(AccountError):
    """An account with that id already exists."""

    code = "ACCOUNT_EXISTS"


class AccountDisabled(AccountError):
    """A genuine credential for an account that is disabled now (403)."""

    code = "ACCOUNT_DISABLED"


class AccountConflict(AccountError):
    """The account changed between read and write; re-read and retry."""

    code = "ACCOUNT_CONFLICT"


class KeyOperationRefused(ServiceError):
    """A key operation that would break things (retiring the latest version...)."""

    code = "KEY_OPERATION_REFUSED"


class JwksUnavailable(ServiceError):
    """A customer's JWKS endpoint could not be fetched or parsed; ``status`` is the HTTP
    status it answered, when it answered one (None: no answer, or an unusable body)."""

    code = "JWKS_UNAVAILABLE"
    retryable = True

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.status = status


class JwksBusy(JwksUnavailable):
    """Too many requests already wait on this JWKS endpoint: refused at once, not queued."""

    code = "JWKS_BUSY"


class ReplayStoreUnavailable(ServiceError):
    """The replay store could not say whether a ``jti`` is new (Redis down, or memory full).

    Callers must refuse the assertion: an unknown is never treated as a first use.
    """

    code = "REPLAY_STORE_UNAVAILABLE"
    retryable = True


class RequestInvalid(ServiceError):
    """A request to one of the services is malformed (its body's shape): each app raises it
    while parsing, before any service is called."""

    code = "REQUEST_INVALID"


class VaultError(ServiceError):
    """Vault refused or failed a request."""

    code = "VAULT_ERROR"


class VaultUnavailable(VaultError):
    """Vault did not answer (connection refused, timeout, 5xx)."""

    code = "VAULT_UNAVAILABLE"
    retryable = True


class VaultSealed(VaultUnavailable):
    """Vault answered that it is sealed or not initialised."""

    code = "VAULT_SEALED"


class VaultForbidden(VaultError):
    """Vault refused the request: bad token or missing policy."""

    code = "VAULT_FORBIDDEN"


class VaultNotFound(VaultError):
    """The path does not exist in Vault."""

    code = "VAULT_NOT_FOUND"
