"""The player's one service: what each of its routes calls (campaign page, identify,
submit), built once per process from the settings."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import msgspec

from shared.errors import ConfigurationError, TokenEmpty
from shared.identity.form_keys import load_form_keys
from shared.identity.form_token import FormTokens
from shared.identity.identification import Identification, Identifier, ServedCampaign
from shared.identity.participations import Participations
from shared.identity.player_store import PlayerStore
from shared.identity.profile_api import ProfileApi
from shared.identity.submission import Submissions, Submitted
from shared.settings import Settings
from shared.tokens.verification import Verifier
from shared.vault import Vault

__all__ = ["CampaignPage", "Player"]


class CampaignPage(msgspec.Struct, frozen=True, kw_only=True):
    """What the identification step shows: the campaign, who was identified, and (when they
    may play) the form's token."""

    served: ServedCampaign
    identification: Identification
    form_token: str | None


class Player:
    """Identify participants and take their forms (one per process)."""

    def __init__(
        self,
        verifier: Verifier,
        store: PlayerStore,
        forms: FormTokens,
        participations: Participations,
        profiles: ProfileApi,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.verifier = verifier
        self.store = store
        self._forms = forms
        self._clock = clock
        self._identifier = Identifier(verifier, store, profiles, participations)
        self._submissions = Submissions(forms, participations, clock=clock)

    @classmethod
    def from_settings(cls, settings: Settings) -> Player:
        """The player of ``settings`` (``REDIS_URL`` required; form keys read from Vault).

        Raises:
            ConfigurationError: ``REDIS_URL`` is unset, or the form keys are missing.
        """
        if not settings.redis_url:
            raise ConfigurationError(
                "REDIS_URL is required by the player (participation counts are shared "
                "by every worker and instance)"
            )
        vault = Vault(settings)
        return cls(
            Verifier(vault, settings=settings),
            PlayerStore(vault),
            FormTokens(load_form_keys(vault)),
            Participations(settings.redis_url),
            ProfileApi(),
        )

    async def served(self, account: str, campaign: str) -> ServedCampaign:
        """The campaign, if served (``CampaignNotFound`` otherwise)."""
        return await self._identifier.served(account, campaign)

    async def identify(self, account: str, campaign: str, token: object) -> Identification:
        """The identification of ``token`` for the campaign (``POST /v1/identify``)."""
        served = await self.served(account, campaign)
        return await self._identifier.identify(served, token)

    async def page(self, served: ServedCampaign, token: str | None) -> CampaignPage:
        """The identification step of ``served`` for ``token`` (none: ``TOKEN_EMPTY``)."""
        if token is None:
            raise TokenEmpty("no token came with the campaign")
        identification = await self._identifier.identify(served, token)
        form_token = None
        if identification.can_play:
            form_token, _ = self._forms.issue(
                account=served.account,
                campaign=served.campaign,
                subject=identification.subject,
                now=self._clock(),
                limit=identification.limit,
                prefilled=identification.prefill,
            )
        return CampaignPage(served=served, identification=identification, form_token=form_token)

    async def submit(
        self, account: str, campaign: str, form_token: str, fields: Mapping[str, str]
    ) -> Submitted:
        """Record a submitted form (see :meth:`Submissions.submit`)."""
        await self.served(account, campaign)
        return await self._submissions.submit(account, campaign, form_token, fields)

    async def close(self) -> None:
        """Close the connections to Redis and to profile APIs."""
        await self._identifier.close()
