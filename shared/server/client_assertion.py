"""RFC 7523 §3 rules for client assertions (``private_key_jwt`` / ``client_secret_jwt``).

The signature is checked first, by the account's own method (:meth:`Verifier.authenticate`);
then these claim rules; then the caller records ``jti`` in the replay store so that the
assertion is single-use until it expires.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

import msgspec

from shared.errors import TokenExpired, TokenInvalidClaims
from shared.tokens.claims import numeric_date
from shared.tokens.verification import SignedJws

__all__ = [
    "MAX_ASSERTION_LIFETIME",
    "ClientAssertion",
    "check_client_assertion",
]

#: An assertion may live at most this long: ``exp - iat`` and ``exp - now`` (our clock).
MAX_ASSERTION_LIFETIME: Final = 300
#: Clock skew tolerated for an assertion's times, whatever the account's leeway (which may
#: be an hour for its secure tokens): an assertion must be short-lived.
MAX_ASSERTION_LEEWAY: Final = 60
_MAX_JTI: Final = 256


class ClientAssertion(msgspec.Struct, frozen=True):
    """A client assertion whose signature and claims passed; ``jti`` not yet consumed."""

    jti: str
    #: Until when the jti must be remembered (exp plus leeway).
    remember_until: float


def check_client_assertion(
    signed: SignedJws, *, client_id: str, audiences: Collection[str], now: float
) -> ClientAssertion:
    """Apply RFC 7523 §3's claim rules to an authenticated client assertion.

    Raises:
        TokenExpired: ``exp`` is past (beyond the account's leeway).
        TokenInvalidClaims: ``iss``/``sub`` not the client, ``aud`` not us, no ``exp`` or
            ``jti``, a lifetime over 5 minutes, ``nbf``/``iat`` in the future.
    """
    claims = signed.claims
    leeway = min(signed.account.policy.leeway, MAX_ASSERTION_LEEWAY)
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise TokenInvalidClaims("a client assertion's iss and sub must both be the client_id")
    if not audience_matches(claims, audiences, required=True):
        raise TokenInvalidClaims(
            f"aud must name this server: one of {sorted(audiences)} (the token endpoint or issuer)"
        )
    exp = numeric_date(claims, "exp")
    if exp is None:
        raise TokenInvalidClaims("a client assertion needs 'exp'")
    if now >= exp + leeway:
        raise TokenExpired(f"client assertion expired {int(now - exp)} s ago")
    iat = numeric_date(claims, "iat")
    nbf = numeric_date(claims, "nbf")
    if (iat is not None and iat > now + leeway) or (nbf is not None and nbf > now + leeway):
        raise TokenInvalidClaims("client assertion is not valid yet ('iat' or 'nbf' in the future)")
    lifetime = max(exp - now, exp - iat if iat is not None else 0.0)
    if lifetime > MAX_ASSERTION_LIFETIME:
        raise TokenInvalidClaims(
            f"a client assertion may live at most {MAX_ASSERTION_LIFETIME} s (exp - iat, and "
            f"exp - now on our clock); this one lives {int(lifetime)} s: use e.g. 60 s"
        )
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti.strip() or len(jti) > _MAX_JTI:
        raise TokenInvalidClaims(f"a client assertion needs a 'jti' string (1 to {_MAX_JTI} chars)")
    return ClientAssertion(jti=jti, remember_until=exp + leeway)


def audience_matches(claims: dict[str, Any], audiences: Collection[str], *, required: bool) -> bool:
    """True when ``aud`` (a string or a list) names one of ``audiences``; an absent ``aud``
    passes only when not ``required`` (RFC 7523 §3: a present ``aud`` must identify us)."""
    if "aud" not in claims:
        return not required
    aud = claims["aud"]
    given = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    return any(isinstance(a, str) and a in audiences for a in given)
