"""Claim rules of DESIGN §2, applied only to payloads whose signature has verified.

Order matters and is the table's: an expired token is ``TOKEN_EXPIRED`` whatever else is
wrong with it; every other problem is ``TOKEN_INVALID_CLAIMS``.
"""

from __future__ import annotations

import math
from typing import Any, Final

from shared.accounts.document import Account
from shared.errors import TokenExpired, TokenInvalidClaims

__all__ = ["OBJECT_CLAIMS", "check_claims", "claim_id", "numeric_date"]

#: Claims the platform reads as objects (profile, form pre-fill, limits, prize, free data).
OBJECT_CLAIMS: Final = ("profile", "form", "optin", "limit", "gift", "custom")


def _is_number(value: object) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float (10**400) is no date
        return False


def numeric_date(claims: dict[str, Any], name: str) -> float | None:
    if name not in claims:
        return None
    value = claims[name]  # present but null is "not a number" (DESIGN §2), not "absent"
    if not _is_number(value):
        raise TokenInvalidClaims(f"'{name}' must be a NumericDate (seconds since the epoch)")
    return float(value)


def claim_id(value: object, name: str) -> str:
    """An identifier claim (``sub``, ``campaignId``) as a string: a non-empty string or an
    integer; refuses booleans, fractions and objects."""
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if value is None:
        raise TokenInvalidClaims(f"'{name}' is required")
    raise TokenInvalidClaims(f"'{name}' must be a non-empty string or an integer")


def check_claims(
    claims: dict[str, Any], *, account: Account, campaign_id: str | int | None, now: float
) -> tuple[str, str]:
    """Check ``claims`` for ``account`` and the expected campaign; returns (sub, campaignId).

    ``campaign_id=None`` skips only the campaign match (the Authorization API does not know
    the campaign); ``campaignId`` must still be present and well typed.

    Raises:
        TokenExpired: ``exp`` is past by more than the leeway.
        TokenInvalidClaims: any other rule; ``detail`` names the claim.
    """
    policy = account.policy
    leeway = policy.leeway
    exp = numeric_date(claims, "exp")
    if exp is not None and now >= exp + leeway:
        raise TokenExpired(f"token expired {int(now - exp)} s ago")
    if exp is None and policy.require_exp:
        raise TokenInvalidClaims("'exp' is required for this account")
    nbf = numeric_date(claims, "nbf")
    if nbf is not None and now + leeway < nbf:
        raise TokenInvalidClaims("token is not valid yet ('nbf' is in the future)")
    iat = numeric_date(claims, "iat")
    if iat is not None and iat > now + leeway:
        raise TokenInvalidClaims("'iat' is in the future")
    if policy.max_lifetime is not None and exp is not None:
        start = iat if iat is not None else now
        if exp - start > policy.max_lifetime + leeway:
            raise TokenInvalidClaims(
                f"token lifetime exceeds this account's maximum of {policy.max_lifetime} s"
            )
    subject = claim_id(claims.get("sub"), "sub")
    campaign = claim_id(claims.get("campaignId"), "campaignId")
    if campaign_id is not None and campaign != str(campaign_id):
        raise TokenInvalidClaims("token is for another campaign")
    if account.issuer is not None and claims.get("iss") != account.issuer:
        raise TokenInvalidClaims("'iss' is not this account's issuer")
    for name in OBJECT_CLAIMS:
        if name in claims and not isinstance(claims[name], dict):
            raise TokenInvalidClaims(f"'{name}' must be a JSON object")
    return subject, campaign
