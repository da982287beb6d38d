"""The player's own refusals (drawn in :mod:`shared.errors`' tree, under ``shared.identity``).

A token refused by the verifier keeps its DESIGN §2 code; these are what comes after the
token was accepted (the customer's profile API, the participation gate, the form) or
before it is looked at (an unknown campaign, settings that fail validation).
"""

from __future__ import annotations

from shared.errors import ServiceError

__all__ = [
    "CampaignNotFound",
    "FormCrossSite",
    "FormInvalid",
    "FormUsed",
    "NotEligible",
    "ParticipationLimitReached",
    "PlayerSettingsInvalid",
    "ProfileUnauthorized",
    "SsoDenied",
    "SsoFailed",
    "SsoIssuerMismatch",
    "SsoStateInvalid",
    "SsoUnavailable",
]


class PlayerSettingsInvalid(ServiceError):
    """An account's player settings break a rule (refused on write)."""

    code = "PLAYER_SETTINGS_INVALID"


class CampaignNotFound(ServiceError):
    """No such campaign: the account is unknown, disabled, or does not serve it (one answer
    for all three, so the page tells nobody which accounts exist)."""

    code = "CAMPAIGN_NOT_FOUND"


class ProfileUnauthorized(ServiceError):
    """The customer's profile API refused the token's ``access_token`` (401 or 403): the
    token is genuine, but what it carries no longer opens the profile. Not retryable. Not a
    :class:`TokenError`: the verifier never raises it (its codes are DESIGN §2's)."""

    code = "PROFILE_UNAUTHORIZED"


class NotEligible(ServiceError):
    """The token says this participant may not take part (``limit.canPlay: false``)."""

    code = "NOT_ELIGIBLE"


class ParticipationLimitReached(ServiceError):
    """The participant has used every participation ``limit.nb`` allows in this campaign."""

    code = "PARTICIPATION_LIMIT_REACHED"


class FormInvalid(ServiceError):
    """A submitted form's token is missing, tampered with, expired, or made for another
    account or campaign."""

    code = "FORM_INVALID"


class FormUsed(FormInvalid):
    """This form was submitted already: one identification, one participation."""

    code = "FORM_USED"


class FormCrossSite(FormInvalid):
    """The form was posted from another site than the player's own pages (CSRF)."""

    code = "FORM_CROSS_SITE"


class SsoFailed(ServiceError):
    """Single sign-on at the account's identity provider failed (channel 3): the code was
    refused (``invalid_grant``), or an answer or a token of the IdP is not what it must be.
    Not retryable as is: the participant signs in again."""

    code = "SSO_FAILED"


class SsoStateInvalid(SsoFailed):
    """The callback's ``state`` is unknown, expired, used already, or was made for another
    browser (its cookie does not match): a forged or replayed answer, refused."""

    code = "SSO_STATE_INVALID"


class SsoIssuerMismatch(SsoFailed):
    """The authorization response names another issuer than the one asked (RFC 9207), or
    none although the IdP says it always does: a mix-up, refused."""

    code = "SSO_ISSUER_MISMATCH"


class SsoDenied(SsoFailed):
    """The participant (or the IdP) refused the sign-in (``access_denied``)."""

    code = "SSO_DENIED"


class SsoUnavailable(SsoFailed):
    """The identity provider cannot be used now: down, too slow, or answering 5xx.
    Retryable."""

    code = "SSO_UNAVAILABLE"
    retryable = True
