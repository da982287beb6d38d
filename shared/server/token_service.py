"""The token endpoint's logic (DESIGN §5): two grants in, an RFC 9068 bearer out.

``jwt-bearer`` (RFC 7523 §2.1): ``assertion`` is the customer's secure token, verified for
``client_id`` like the player does, except for the campaign (unknown here); the same token
may be exchanged again while valid, a few times a minute. Whoever holds a secure token (a
participant, from a campaign URL) can use this grant, so it has budgets of its own: per
token and per account, apart from the account's ``client_credentials`` budget. The
account's policy may also turn the grant off or require an ``aud`` naming us.

``client_credentials`` with a client assertion (RFC 7523 §2.2): the assertion authenticates
the client (``private_key_jwt`` / ``client_secret_jwt`` with the account's own key or
secret), and its ``jti`` is single-use until it expires.

Every refusal is an :class:`OAuthError` carrying the RFC 6749 §5.2 ``error``, a description
that says what to fix, and our token code. The app maps ``error`` to an HTTP status once.

Who signs the bearer is an :class:`IssuerBackend`: :class:`BuiltinBackend` (Transit, the
default) or Keycloak (:class:`shared.keycloak.KeycloakBackend`, ``AUTHZ_BACKEND=keycloak``).
Every check above runs the same whichever it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Iterator, Mapping
from typing import Final, Protocol

from shared.accounts.document import Account
from shared.errors import (
    AccountNotFound,
    JwksUnavailable,
    ReplayStoreUnavailable,
    ServiceError,
    TokenError,
    TokenInvalidSignature,
    VaultError,
    VerificationUnavailable,
)
from shared.server.bearer_issuer import BearerIssuer, IssuedBearer
from shared.server.client_assertion import ClientAssertion, audience_matches, check_client_assertion
from shared.server.oauth_error import OAuthError
from shared.server.replay_store import ReplayStore
from shared.state.rate_limits import Limiter
from shared.tokens.compact import parse_compact
from shared.tokens.verification import Verifier
from shared.wire import (
    CLIENT_ASSERTION_TYPE,
    GRANT_TYPES,
    JWT_BEARER,
    RETRY_AFTER,
    SCOPE_ENCRYPT,
    OAuthErrorCode,
)

__all__ = [
    "BuiltinBackend",
    "IssuerBackend",
    "TokenService",
]

logger = logging.getLogger(__name__)


#: The dependency an outage is named by, in our words (never what it answered).
_DEPENDENCIES: Final = (
    (VaultError, "Vault is unavailable"),
    (ReplayStoreUnavailable, "the replay store is unavailable"),
)


_JWT_BEARER_BUDGET: Final = "for this client (jwt-bearer)"


def _refuse_after(wait: float | None, what: str) -> None:
    if wait is not None:
        raise OAuthError(
            "slow_down",
            f"too many token requests {what}; retry later",
            code="RATE_LIMITED",
            retry_after=max(1, int(wait + 0.999)),
        )


def _unavailable(exc: ServiceError) -> OAuthError:
    """503 ``temporarily_unavailable`` naming the dependency that failed."""
    reason = ""
    if isinstance(exc.__cause__, JwksUnavailable):
        # Our own words (shared.tokens.signatures): the account's JWKS endpoint, and the
        # status it answered if it answered one; never more of what it did.
        reason = f": {exc.detail.removesuffix('; retry later')}"
    else:
        for kind, words in _DEPENDENCIES:
            if isinstance(exc, kind) or isinstance(exc.__cause__, kind):
                reason = f": {words}"
                break
    return OAuthError(
        "temporarily_unavailable",
        f"the service cannot complete this now ({exc.code}){reason}; retry in a few seconds",
        code=exc.code,
        retry_after=RETRY_AFTER,
    )


@contextlib.contextmanager
def _refused_as(
    error: OAuthErrorCode, what: str, *, account: Account | None = None, token: str = ""
) -> Iterator[None]:
    """Token refusals inside become ``error`` with their code; outages become a 503.

    With ``account``, a signature refusal is described by :func:`_unauthenticated_detail`.
    """
    try:
        yield
    except VerificationUnavailable as exc:
        raise _unavailable(exc) from exc
    except TokenError as exc:
        detail = exc.detail
        if account is not None and isinstance(exc, TokenInvalidSignature):
            detail = _unauthenticated_detail(exc, account, token)
        raise OAuthError(error, f"{what} was refused: {detail}", code=exc.code) from exc


def _unauthenticated_detail(exc: TokenInvalidSignature, account: Account, token: str) -> str:
    """What a caller whose token's signature did not verify may hear: nothing of the
    account's settings (its algorithms, method, key ids), which the whole detail names.

    Until the signature verifies, the caller is anyone who typed a ``client_id``; the
    account owner reads the whole detail with its own verifier (``tokenctl token
    verify``), and the operator in our log (account id and detail; never the token).
    """
    logger.info("token refused for account %s: %s", account.id, exc)
    # One answer whether the alg is allowed or not: two would let anyone rebuild the
    # account's list one alg per request.
    return "the token's alg or signature is not accepted for this account"


_UNKNOWN_CLIENT: Final = "unknown or disabled client_id"


def _refuse_empty(value: str, name: str, what: str) -> None:
    """An empty parameter is one not sent (RFC 6749 §3.1): invalid_request, with
    TOKEN_EMPTY and a sentence naming the parameter and what belongs in it. (Whitespace is
    a value: the verifier refuses it as an empty token.)"""
    if not value:
        raise OAuthError(
            "invalid_request", f"{name} is empty: send {what} in it", code="TOKEN_EMPTY"
        )


class IssuerBackend(Protocol):
    """Issues the bearer once TokenService has authenticated the request."""

    #: What a client assertion's ``aud`` may name (RFC 7523 §3 item 3).
    assertion_audiences: frozenset[str]

    def issue(
        self, account_id: str, scope: str, *, client_assertion: str | None = None
    ) -> IssuedBearer:
        """A bearer for ``account_id``; ``client_assertion`` is the verified assertion of a
        ``client_credentials`` request (None for ``jwt-bearer``).

        Raises:
            ServiceError: an outage (answered 503; the assertion's jti is released).
            OAuthError: the backend refused.
        """
        ...


class BuiltinBackend:
    """Our own bearers, signed by Transit (:class:`BearerIssuer`)."""

    def __init__(self, bearers: BearerIssuer, *, token_endpoint: str) -> None:
        self._bearers = bearers
        self.assertion_audiences = frozenset({token_endpoint, bearers.issuer})

    def issue(
        self, account_id: str, scope: str, *, client_assertion: str | None = None
    ) -> IssuedBearer:
        """Sign a bearer with Transit (the assertion was checked already)."""
        return self._bearers.issue(account_id, scope)


class TokenService:
    """Validates token requests and issues bearers; thread-safe, blocking (Vault calls)."""

    def __init__(
        self,
        verifier: Verifier,
        bearers: BearerIssuer,
        replay: ReplayStore,
        limiter: Limiter,
        *,
        token_endpoint: str,
        address_limiter: Limiter | None = None,
        jwt_bearer_limiter: Limiter | None = None,
        assertion_limiter: Limiter | None = None,
        backend: IssuerBackend | None = None,
    ) -> None:
        self._verifier = verifier
        self._bearers = bearers
        self._backend = backend or BuiltinBackend(bearers, token_endpoint=token_endpoint)
        self._replay = replay
        #: Per account, charged only once the client is authenticated: nobody can spend
        #: another customer's budget with junk requests naming it. client_credentials only:
        #: a secure token's holder is not the customer.
        self._limiter = limiter
        #: jwt-bearer, per account and per secure token (a hash of it), charged once the
        #: token verified; None: no limit.
        self._jwt_bearer_limiter = jwt_bearer_limiter
        self._assertion_limiter = assertion_limiter
        #: Per client address, before any work: bounds what unauthenticated junk costs us.
        self._address_limiter = address_limiter
        #: What a secure token's ``aud``, when it has one, may name: us.
        self.audiences = frozenset({token_endpoint, bearers.issuer})
        #: What a client assertion's ``aud`` may name (RFC 7523 §3 item 3): us, or the
        #: Keycloak realm the backend passes the assertion to.
        self.assertion_audiences = self._backend.assertion_audiences

    def exchange(
        self, params: Mapping[str, str], *, client_address: str | None = None
    ) -> IssuedBearer:
        """Handle one token request (form parameters, each given once).

        Raises:
            OAuthError: the request is refused; ``error`` says how.
        """
        if self._address_limiter is not None and client_address is not None:
            self._throttle(self._address_limiter, client_address, "from this address")
        return self._exchange_admitted(params)

    def _exchange_admitted(self, params: Mapping[str, str]) -> IssuedBearer:
        """:meth:`exchange` once the address's budget was charged."""
        grant = self._grant(params)
        if grant == JWT_BEARER:
            account_id, digest = self._jwt_bearer(params)
            self._throttle(self._assertion_limiter, digest, "with this assertion")
            self._throttle(self._jwt_bearer_limiter, account_id, _JWT_BEARER_BUDGET)
            replay_key = None
        else:
            account_id, checked = self._client_credentials(params)
            # The jti first, so a replayed assertion is refused without spending the
            # account's budget; a 429 then releases it, so the throttled assertion stays
            # unspent (the client resends it after Retry-After) and leaves no record.
            replay_key = self._record(account_id, checked)
            try:
                self._throttle(self._limiter, account_id, "for this client")
            except OAuthError:
                with contextlib.suppress(ServiceError):
                    self._replay.release(replay_key)
                raise
        assertion = params.get("client_assertion") if replay_key is not None else None
        try:
            return self._backend.issue(account_id, SCOPE_ENCRYPT, client_assertion=assertion)
        except ServiceError as exc:
            if replay_key is not None:  # our failure: the same assertion may be retried
                # If even that fails, the jti stays recorded until it expires.
                with contextlib.suppress(ServiceError):
                    self._replay.release(replay_key)
            raise _unavailable(exc) from exc

    def exchanges_inline(self, params: Mapping[str, str]) -> bool:
        """Whether :meth:`exchange_async` can answer ``params`` with no I/O but Transit's
        signature: a jwt-bearer grant for an account held in the cache with a key of its
        own, our own bearers (not an external issuer), their signing keys cached."""
        client_id, assertion = params.get("client_id"), params.get("assertion")
        return (
            params.get("grant_type") == JWT_BEARER
            and bool(client_id)
            and assertion is not None
            and isinstance(self._backend, BuiltinBackend)
            and self._bearers.holds_keys()
            and self._verifier.verifies_inline(assertion, client_id or "")
        )

    async def exchange_async(
        self, params: Mapping[str, str], *, client_address: str | None = None
    ) -> IssuedBearer:
        """:meth:`exchange` on the event loop, once :meth:`exchanges_inline`: the same
        checks in the same order (about a hundred microseconds of CPU), then the bearer's
        signature awaited rather than waited for in a worker thread.

        Raises:
            OAuthError: as :meth:`exchange`.
        """
        if self._address_limiter is not None and client_address is not None:
            await self._throttle_async(self._address_limiter, client_address, "from this address")
            if not self.exchanges_inline(params):
                # An entry expired while the limit was asked (a slow Redis): no Vault read
                # on the loop; the rest in a thread, as :meth:`exchange` would.
                return await asyncio.to_thread(self._exchange_admitted, params)
        if self._grant(params) != JWT_BEARER:
            raise ValueError("exchange_async serves the jwt-bearer grant: see exchanges_inline")
        account_id, digest = self._jwt_bearer(params)
        await self._throttle_async(self._assertion_limiter, digest, "with this assertion")
        await self._throttle_async(self._jwt_bearer_limiter, account_id, _JWT_BEARER_BUDGET)
        try:
            return await self._bearers.issue_async(account_id, SCOPE_ENCRYPT)
        except ServiceError as exc:
            raise _unavailable(exc) from exc

    @staticmethod
    def _grant(params: Mapping[str, str]) -> str:
        """The request's grant type, with the only scope there is."""
        grant = params.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant not in GRANT_TYPES:
            raise OAuthError(
                "unsupported_grant_type", f"grant_type must be one of {list(GRANT_TYPES)}"
            )
        scope = params.get("scope", SCOPE_ENCRYPT)
        if set(scope.split()) != {SCOPE_ENCRYPT}:
            raise OAuthError("invalid_scope", f"the only scope is {SCOPE_ENCRYPT!r}")
        return grant

    @staticmethod
    def _throttle(limiter: Limiter | None, key: str, what: str) -> None:
        if limiter is None:
            return
        _refuse_after(limiter.acquire(key), what)

    @staticmethod
    async def _throttle_async(limiter: Limiter | None, key: str, what: str) -> None:
        if limiter is None:
            return
        _refuse_after(await limiter.acquire_async(key), what)

    def _admit(self, client_id: str) -> Account:
        """The account, which must exist and be active."""
        try:
            return self._verifier.active_account(client_id)
        except AccountNotFound as exc:
            raise OAuthError("invalid_client", _UNKNOWN_CLIENT) from exc
        except VerificationUnavailable as exc:
            raise _unavailable(exc) from exc

    def _jwt_bearer(self, params: Mapping[str, str]) -> tuple[str, str]:
        """The verified grant's account, and the key of its assertion's own budget (a hash
        of the assertion; the caller charges both budgets)."""
        client_id, assertion = params.get("client_id"), params.get("assertion")
        if not client_id or assertion is None:
            raise OAuthError(
                "invalid_request", "the jwt-bearer grant needs client_id and assertion"
            )
        _refuse_empty(assertion, "assertion", "the secure token (a JWS)")
        account = self._admit(client_id)
        policy = account.policy.jwt_bearer
        with _refused_as("invalid_grant", "the assertion", account=account, token=assertion):
            verified = self._verifier.verify_assertion(assertion, account_id=client_id)
        # After the verification: only a token of this account learns its policy.
        if policy == "disabled":
            raise OAuthError(
                "unauthorized_client",
                "this account does not allow the jwt-bearer grant: use client_credentials "
                "with a client assertion",
            )
        required = policy == "require_aud"
        if not audience_matches(verified.claims, self.audiences, required=required):
            # RFC 7523 §3: a JWT meant for someone else is not ours to accept.
            how = "it must name" if required else "omit it or name"
            raise OAuthError(
                "invalid_grant",
                f"the assertion's aud is not this server: {how} one of {sorted(self.audiences)}",
                code="TOKEN_INVALID_CLAIMS",
            )
        # Keyed by a hash: the token itself is never kept. Charged only now, so junk can
        # neither evict a bucket nor spend one. Hash the signing input as the verifier read
        # it: padding whitespace or a re-encoded ECDSA signature (s and n - s both verify)
        # would otherwise make the same token a new one with a fresh budget.
        signing_input = assertion.strip().rsplit(".", 1)[0]
        return client_id, hashlib.sha256(signing_input.encode()).hexdigest()[:32]

    def _client_credentials(self, params: Mapping[str, str]) -> tuple[str, ClientAssertion]:
        kind, assertion = params.get("client_assertion_type"), params.get("client_assertion")
        if kind == CLIENT_ASSERTION_TYPE and assertion is not None:
            _refuse_empty(assertion, "client_assertion", "a JWT signed with the client's key")
        if kind != CLIENT_ASSERTION_TYPE or not assertion:
            raise OAuthError(
                "invalid_request",
                f"client_credentials needs client_assertion_type={CLIENT_ASSERTION_TYPE} and a "
                "client_assertion (private_key_jwt or client_secret_jwt)",
            )
        client_id = params.get("client_id") or self._claimed_client(assertion)
        account = self._admit(client_id)
        with _refused_as(
            "invalid_client", "the client assertion", account=account, token=assertion
        ):
            signed = self._verifier.authenticate(assertion, account_id=client_id)
            checked = check_client_assertion(
                signed,
                client_id=client_id,
                audiences=self.assertion_audiences,
                now=self._verifier.now(),
            )
        return client_id, checked

    def _record(self, client_id: str, checked: ClientAssertion) -> str:
        """Spend the assertion's jti; its replay key, for a release if we fail later."""
        replay_key = f"{client_id}:{checked.jti}"
        try:
            first = self._replay.first_use(replay_key, checked.remember_until)
        except ServiceError as exc:
            raise _unavailable(exc) from exc
        if not first:
            raise OAuthError(
                "invalid_client",
                "this client assertion was used already: make a new one (new jti) per request",
                code="TOKEN_INVALID_CLAIMS",
            )
        return replay_key

    @staticmethod
    def _claimed_client(assertion: str) -> str:
        """The client an assertion claims to be (its ``sub``), before any check."""
        with _refused_as("invalid_client", "the client assertion"):
            claimed = (parse_compact(assertion).payload or {}).get("sub")
        if not isinstance(claimed, str) or not claimed:
            raise OAuthError("invalid_request", "give client_id, or a client assertion with 'sub'")
        return claimed
