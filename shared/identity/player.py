"""The player's one service: what each of its routes calls (campaign page, identify,
submit), built once per process from the settings."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping

import msgspec

from shared.errors import ConfigurationError, RateLimited, TokenEmpty
from shared.identity.form_keys import load_form_keys
from shared.identity.form_token import FormTokens
from shared.identity.identification import Identification, Identifier, ServedCampaign
from shared.identity.participations import Participations
from shared.identity.player_secrets import PlayerSecretsStore
from shared.identity.player_store import PlayerStore
from shared.identity.profile_api import ProfileApi
from shared.identity.submission import Submissions, Submitted
from shared.identity.webhooks import Deliverer, Outbox, WebhookTarget
from shared.settings import Settings
from shared.state.rate_limits import Limiter, Limiters
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
        vault: Vault,
        verifier: Verifier,
        store: PlayerStore,
        *,
        forms: FormTokens | None,
        participations: Participations,
        profiles: ProfileApi,
        secrets: PlayerSecretsStore | None = None,
        limiter: Limiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.verifier = verifier
        self.store = store
        #: The accounts' SSO and webhook secrets (read through a cache).
        self.secrets = secrets or PlayerSecretsStore(vault)
        self._deliverer: Deliverer | None = None
        self._delivering: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._vault = vault
        self._clock = clock
        self._participations = participations
        #: Identifications and participations per account (None: no limit).
        self._limiter = limiter
        self._identifier = Identifier(verifier, store, profiles, participations)
        self._forms = forms
        self._submissions = (
            None if forms is None else Submissions(forms, participations, clock=clock)
        )

    async def start(self) -> None:
        """Read the form keys from Vault, if not given (the app's start-up: building the app
        contacts nothing, so its OpenAPI document can be generated offline).

        Raises:
            ConfigurationError: there are none (``tokenctl vault bootstrap`` makes them).
        """
        if self._forms is None:
            self._forms = FormTokens(await asyncio.to_thread(load_form_keys, self._vault))
            self._submissions = Submissions(self._forms, self._participations, clock=self._clock)
        if self._deliverer is not None and self._delivering is None:
            # Every worker delivers webhooks (one consumer of the outbox's group each).
            self._delivering = asyncio.create_task(self._deliverer.run(self._stop))

    async def webhook_target(self, account: str) -> WebhookTarget:
        """The account's webhook and secrets as they are now (Vault off the event loop,
        both in one thread hop)."""
        return await asyncio.to_thread(
            lambda: (self.store.get(account).webhook, self.secrets.get(account))
        )

    async def check_ready(self) -> dict[str, str]:
        """Readiness: the form keys are read and Redis answers (no form could be taken
        without it). Vault is not asked: settings and keys are cached to ride out its
        outages, as the Crypto API's readiness does.

        Raises:
            ConfigurationError: the player has not started.
            VerificationUnavailable: Redis cannot be reached.
        """
        self._started()
        await self._participations.ping()
        return {"status": "ready", "redis": "ok"}

    def _started(self) -> tuple[FormTokens, Submissions]:
        if self._forms is None or self._submissions is None:
            raise ConfigurationError("the player has not started (its form keys are unread)")
        return self._forms, self._submissions

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
        participations = Participations(settings.redis_url)
        # One budget per account for every worker and instance; while Redis is down, one
        # per process (docs/decisions.md).
        limiter = Limiters(settings.redis_url).limiter(
            "player:account", settings.player_rate_per_second, settings.player_rate_burst
        )
        player = cls(
            vault,
            Verifier(vault, settings=settings),
            PlayerStore(vault),
            forms=None,
            participations=participations,
            profiles=ProfileApi(),
            limiter=limiter,
        )
        # The deliverer reads targets through the player (its caches): made after it.
        player.deliver_webhooks(
            Deliverer(
                Outbox(participations.client, participations.outbox_key),
                player.webhook_target,
                retry_base=settings.webhook_retry_base,
                park_after=settings.webhook_park_after,
                claim_idle=settings.webhook_claim_idle,
            )
        )
        return player

    def deliver_webhooks(self, deliverer: Deliverer) -> None:
        """Have this player's worker run ``deliverer`` from :meth:`start` on."""
        self._deliverer = deliverer

    async def served(self, account: str, campaign: str) -> ServedCampaign:
        """The campaign, if served (``CampaignNotFound`` otherwise)."""
        return await self._identifier.served(account, campaign)

    async def identify(self, account: str, campaign: str, token: object) -> Identification:
        """The identification of ``token`` for the campaign (``POST /v1/identify``)."""
        served = await self.served(account, campaign)
        await self._charge(served)
        return await self._identifier.identify(served, token)

    async def page(self, served: ServedCampaign, token: str | None) -> CampaignPage:
        """The identification step of ``served`` for ``token`` (none: ``TOKEN_EMPTY``)."""
        if token is None:
            raise TokenEmpty("no token came with the campaign")
        await self._charge(served)
        identification = await self._identifier.identify(served, token)
        return self.page_for(served, identification)

    def page_for(self, served: ServedCampaign, identification: Identification) -> CampaignPage:
        """The identification step of ``served`` for an identification made already (a
        token's, or a single sign-on's): the form's token when the participant may play."""
        form_token = None
        if identification.can_play:
            form_token, _ = self._started()[0].issue(
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
        served = await self.served(account, campaign)
        await self._charge(served)
        submissions = self._started()[1]
        return await submissions.submit(
            account, campaign, form_token, fields, webhook=served.settings.webhook is not None
        )

    async def _charge(self, served: ServedCampaign) -> None:
        """One token of the account's budget, before any verification: charged once the
        campaign is known (an unknown id makes no bucket), whoever sends the request (the
        player has no caller to authenticate; the limit bounds what one account's traffic
        costs the others).

        Raises:
            RateLimited: with the seconds to wait.
        """
        if self._limiter is None:
            return
        wait = await self._limiter.acquire_async(served.account)
        if wait is not None:
            limiter = self._limiter
            raise RateLimited(
                f"this account's campaigns may identify {limiter.rate:g} participants/s "
                f"(burst {limiter.burst}); retry later",
                max(1, int(wait + 0.999)),
            )

    async def close(self) -> None:
        """Stop delivering webhooks; close the connections to Redis and to profile APIs."""
        self._stop.set()
        if self._delivering is not None:
            if self._deliverer is not None and not self._deliverer.busy:
                self._delivering.cancel()  # only waiting for events: nothing to finish
            # Events being delivered are finished (or, past the deadline, taken over later
            # by another worker: at least once).
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._delivering, 15)
            self._delivering = None
        if self._deliverer is not None:
            await self._deliverer.close()
        await self._identifier.close()
        if self._limiter is not None:
            await self._limiter.aclose()
