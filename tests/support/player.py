"""The player as the docs tests serve it: no Vault, no Redis (its pages need neither)."""

from __future__ import annotations

import secrets

from litestar import Litestar

import player.app
from shared import Settings, Vault, Verifier
from shared.identity import Player, PlayerStore
from shared.identity.form_token import FormKeys, FormTokens
from shared.identity.participations import Participations
from shared.identity.profile_api import ProfileApi

__all__ = ["docs_player"]


def docs_player(settings: Settings) -> Litestar:
    """The player app of ``settings``, given form keys of its own: its start-up (reading
    them from Vault) asks nothing, so it serves its docs with Vault and Redis nowhere."""
    vault = Vault(settings)
    started = Player(
        vault,
        Verifier(vault, settings=settings),
        PlayerStore(vault),
        forms=FormTokens(FormKeys((("1", secrets.token_bytes(32)),))),
        participations=Participations(settings.redis_url or "redis://127.0.0.1:1/0"),
        profiles=ProfileApi(),
    )
    return player.app.create_app(settings, overrides={"player": started})
