"""From a token to an identification (DESIGN §11): what every channel ends in.

The order is fixed: the campaign first (an unknown campaign is not found, whatever the
token), then the token (``Verifier.verify``: its §2 code on refusal), then the profile API
when the token carries an ``access_token`` instead of data, then the participation gate.
Nothing of a token is used before the verifier accepted it; the prize and the limits come
from the verified token only, never from a profile API's answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from shared.accounts.document import check_account_id
from shared.errors import AccountInvalid, AccountNotFound, TokenInvalidClaims
from shared.identity.errors import CampaignNotFound
from shared.identity.participations import Participations
from shared.identity.player_settings import SSO_DEFAULT_PREFILL, Campaign, PlayerSettings
from shared.identity.player_store import PlayerStore
from shared.identity.prefill import FieldValue, field_value, prefill
from shared.identity.profile_api import DATA_MEMBERS, ProfileApi
from shared.tokens.verification import VerifiedToken, Verifier

__all__ = ["Gift", "Identification", "Identifier", "ServedCampaign", "sso_identification"]

logger = logging.getLogger("shared.identity")

Gate = Literal["conditions", "limit"]


class Gift(msgspec.Struct, frozen=True, kw_only=True):
    """The prize a verified token names (``gift.label``) and whether this participant can
    win it (``gift.cw``)."""

    label: str
    can_win: bool


class ServedCampaign(msgspec.Struct, frozen=True, kw_only=True):
    """A campaign the player serves, with its account's settings."""

    account: str
    campaign: str
    details: Campaign
    settings: PlayerSettings


class Identification(msgspec.Struct, frozen=True, kw_only=True):
    """Who the participant is and what they may do (``POST /v1/identify``'s answer).

    Attributes:
        subject: the token's ``sub``.
        prefill: form field -> value.
        can_play: False when the token says so (``gate`` ``conditions``) or every allowed
            participation was used (``gate`` ``limit``).
        gift: the prize, when the token names one.
        limit: ``limit.nb`` (None: no limit); participations: those recorded so far.
    """

    subject: str
    prefill: dict[str, FieldValue]
    can_play: bool
    gate: Gate | None
    gift: Gift | None
    encrypted: bool
    key_version: int | None
    limit: int | None
    participations: int


class Identifier:
    """Identify participants of the player's campaigns (one per process, shared)."""

    def __init__(
        self,
        verifier: Verifier,
        store: PlayerStore,
        profiles: ProfileApi,
        participations: Participations,
    ) -> None:
        self._verifier = verifier
        self._store = store
        self._profiles = profiles
        self._participations = participations

    def campaign(self, account: str, campaign: str) -> ServedCampaign:
        """The campaign, if the account is active and serves it (blocking: Vault may be asked).

        Raises:
            CampaignNotFound: unknown or disabled account, or a campaign it does not serve.
            VerificationUnavailable: Vault cannot be asked, with nothing cached.
        """
        try:
            check_account_id(account)
            self._verifier.active_account(account)
        except (AccountInvalid, AccountNotFound):
            raise CampaignNotFound("there is no such campaign") from None
        settings = self._store.get(account)
        details = settings.campaigns.get(campaign)
        if details is None:
            raise CampaignNotFound("there is no such campaign")
        return ServedCampaign(
            account=account, campaign=campaign, details=details, settings=settings
        )

    async def served(self, account: str, campaign: str) -> ServedCampaign:
        """:meth:`campaign` off the event loop, unless everything it reads is cached (then
        on it: two dictionary lookups cost less than a thread hop)."""
        if self._verifier.holds_account(account) and self._store.holds(account):
            return self.campaign(account, campaign)
        return await asyncio.to_thread(self.campaign, account, campaign)

    async def identify(self, served: ServedCampaign, token: object) -> Identification:
        """Verify ``token`` for ``served`` and work out the identification.

        Raises:
            TokenError: the token's §2 code; ``VerificationUnavailable`` (``UNKNOWN``) when
                Vault, a JWKS endpoint, the profile API or Redis failed.
            ProfileUnauthorized: the profile API refused the token's access token.
        """
        verified = await self._verifier.verify_async(
            token, account_id=served.account, campaign_id=served.campaign
        )
        return await self.identify_verified(served, verified)

    async def identify_verified(
        self, served: ServedCampaign, verified: VerifiedToken
    ) -> Identification:
        """The identification of a token the verifier accepted for ``served``."""
        claims = verified.claims
        limit, can_play = _limit(claims.get("limit"))
        data = await self._data(served, claims)
        participations = 0
        gate: Gate | None = None if can_play else "conditions"
        if can_play and limit is not None:
            participations = await self._participations.count(
                served.account, served.campaign, verified.subject
            )
            if participations >= limit:
                gate = "limit"
        return Identification(
            subject=verified.subject,
            prefill=prefill(data, served.settings.prefill),
            can_play=gate is None,
            gate=gate,
            gift=_gift(claims.get("gift")),
            encrypted=verified.encrypted,
            key_version=verified.key_version,
            limit=limit,
            participations=participations,
        )

    async def _data(self, served: ServedCampaign, claims: Mapping[str, Any]) -> Mapping[str, Any]:
        access_token = claims.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            return claims
        if any(isinstance(claims.get(name), Mapping) and claims[name] for name in DATA_MEMBERS):
            return claims  # data in the token: no call (the platform's rule)
        url = served.settings.profile_api
        if url is None:
            # The participant is identified; only the prefill is missing. Say it to the
            # operator, and let the participant fill the form in.
            logger.warning(
                "token carries an access_token but the account has no profile_api",
                extra={"account": served.account},
            )
            return claims
        answer = await self._profiles.fetch(url, access_token)
        return {**claims, **answer, "sub": claims.get("sub")}

    async def close(self) -> None:
        """Close the profile API's and Redis's connections."""
        await self._profiles.close()
        await self._participations.close()


def sso_identification(served: ServedCampaign, profile: Mapping[str, Any]) -> Identification:
    """The identification of a participant the account's identity provider signed in
    (channel 3): ``sub`` and the profile's claims mapped to fields (OpenID's standard claims,
    then the account's SSO ``prefill`` on top). The IdP says who, not what they may win or
    how often they may play: no prize, no limit."""
    sso = served.settings.sso
    mapping = {**SSO_DEFAULT_PREFILL, **(sso.prefill if sso is not None else {})}
    fields: dict[str, FieldValue] = {}
    for claim, field in mapping.items():
        value = field_value(profile.get(claim))
        if value is not None:
            fields[field] = value
    return Identification(
        subject=str(profile["sub"]),
        prefill=fields,
        can_play=True,
        gate=None,
        gift=None,
        encrypted=False,
        key_version=None,
        limit=None,
        participations=0,
    )


def _limit(raw: object) -> tuple[int | None, bool]:
    """``limit``'s ``nb`` (None: none) and whether ``canPlay`` allows playing."""
    if raw is None:
        return None, True
    if not isinstance(raw, Mapping):
        raise TokenInvalidClaims("limit must be an object {nb, canPlay}")
    can_play = raw.get("canPlay", True)
    if not isinstance(can_play, bool):
        raise TokenInvalidClaims("limit.canPlay must be true or false")
    nb = raw.get("nb")
    if nb is None:
        return None, can_play
    if isinstance(nb, bool) or not isinstance(nb, int) or nb < 0:
        raise TokenInvalidClaims("limit.nb must be a whole number, 0 or more")
    return nb, can_play


def _gift(raw: object) -> Gift | None:
    if not isinstance(raw, Mapping):
        return None
    label = raw.get("label")
    if not isinstance(label, str) or not label:
        return None
    return Gift(label=label[:200], can_win=raw.get("cw") is True)
