"""Checking a JWS signature with the account's pinned method and algorithms.

The token's ``alg`` is only ever looked up in the account's allow-list; it never picks a
key family. joserfc does the cryptography, always with a registry allowing that one ``alg``.
"""

from __future__ import annotations

import functools

from joserfc.jwk import ECKey, OctKey, RSAKey
from joserfc.jws import JWSRegistry

from shared.accounts.document import (
    Account,
    JwksValidation,
    PublicKeyValidation,
    SymmetricValidation,
    import_public_key,
)
from shared.errors import (
    JwksBusy,
    JwksRefused,
    JwksUnavailable,
    TokenInvalidSignature,
    VerificationUnavailable,
)
from shared.tokens.compact import CompactToken, Limits
from shared.tokens.jwks import JwksFetcher, refuses

__all__ = ["StaticKey", "check_signature", "static_key"]

StaticKey = RSAKey | ECKey | OctKey | None


class _Registry(JWSRegistry):
    # joserfc caps the header at 512 base64url characters (384 JSON bytes) by default, so
    # an honest token with a longer header failed as a *bad signature*; our format gate
    # already holds headers to Limits.max_header_bytes, so joserfc's cap only has to let
    # those through.
    max_header_length = Limits().max_header_bytes * 4 // 3 + 4


@functools.cache
def _registry(alg: str) -> JWSRegistry:
    # Not strict about header names: RFC 7515 §4 says unknown parameters are ignored unless
    # listed in `crit` (which the format gate refuses outright). Types of the registered
    # ones are still checked.
    return _Registry(algorithms=[alg], strict_check_header=False)


def static_key(account: Account) -> StaticKey:
    """The account's verification key when it does not depend on the token (PEM or HMAC)."""
    v = account.validation
    if isinstance(v, PublicKeyValidation):
        return import_public_key(v.public_key_pem)
    if isinstance(v, SymmetricValidation):
        return OctKey.import_key(v.secret)
    return None


def _key_for(
    token: CompactToken, account: Account, key: StaticKey, jwks_fetcher: JwksFetcher
) -> RSAKey | ECKey | OctKey:
    v = account.validation
    alg = token.header["alg"]
    if not isinstance(v, JwksValidation):
        if key is None:  # pragma: no cover - static_key always returns one for these
            raise TokenInvalidSignature("account has no verification key")
        return key
    kid = token.header.get("kid")
    if not kid:
        raise TokenInvalidSignature("this account validates through JWKS: the token needs a 'kid'")
    try:
        found = jwks_fetcher.key(v.jwks_uri, kid, alg, account_id=account.id)
    except JwksBusy as exc:
        raise VerificationUnavailable(
            "too many requests wait on the account's JWKS endpoint; retry later"
        ) from exc
    except JwksUnavailable as exc:
        raise _jwks_failure(exc) from exc
    if found is None:
        raise TokenInvalidSignature(f"no key {kid!r} for {alg} in the account's JWKS")
    return found


def _jwks_failure(exc: JwksUnavailable) -> JwksRefused | VerificationUnavailable:
    """The caller's words for a failed JWKS fetch: the dependency, and the status when the
    endpoint answered one; nothing else of what it did (a timeout, a refused connection, its
    bytes: told to the caller, they would make us a port scanner of wherever the URL
    points). Those stay in the log (shared.tokens.jwks)."""
    if exc.status is None:
        return VerificationUnavailable(
            "the account's JWKS endpoint cannot be used now; retry later"
        )
    answered = f"the account's JWKS endpoint answered HTTP {exc.status}"
    if refuses(exc.status):
        # The customer's own endpoint says its URL is wrong or closed to us: a configuration
        # problem on their side, which a retry would only repeat.
        return JwksRefused(
            f"{answered}: its URL is wrong or closed to us, and retrying will not help; fix "
            "the endpoint or the account's jwks_uri"
        )
    return VerificationUnavailable(f"{answered}; retry later")


def check_signature(
    token: CompactToken, account: Account, key: StaticKey, jwks_fetcher: JwksFetcher
) -> str:
    """Verify ``token``'s signature for ``account``; returns the algorithm used.

    Raises:
        TokenInvalidSignature: alg not allowed (``none`` included), unknown kid, bad signature.
        JwksRefused: the account's JWKS endpoint answered a redirect or a 4xx no retry fixes.
        VerificationUnavailable: the account's JWKS endpoint cannot be reached (or 5xx).
    """
    alg: str = token.header["alg"]
    allowed = account.validation.algorithms
    if alg not in allowed:
        raise TokenInvalidSignature(f"alg {alg!r} is not allowed for this account: {list(allowed)}")
    verifier = _key_for(token, account, key, jwks_fetcher)
    # joserfc's own steps of deserialize_compact (header check, the one allowed algorithm,
    # key type, signature), on the segments the format gate already decoded: parsing the
    # token a second time cost a third of a verification's CPU outside the crypto.
    registry = _registry(alg)
    try:
        registry.check_header(token.header)
        algorithm = registry.get_alg(alg)
        algorithm.check_key(verifier)
        signing_input = f"{token.segments[0]}.{token.segments[1]}".encode("ascii")
        valid = algorithm.verify(signing_input, token.raw(2), verifier)
    except Exception as exc:
        raise TokenInvalidSignature("signature does not verify") from exc
    if not valid:
        raise TokenInvalidSignature("signature does not verify")
    return alg
