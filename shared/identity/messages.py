"""The bilateral-messages channel (DESIGN §11, channel 2): with whom a campaign page may
speak, decided on the server from the account's settings, never from the browser alone.

The embed loader tells the campaign its ``divId`` and the origin of the page that framed
it; the player speaks only when that origin is exactly one of the account's
``parent_origins`` (the page's ``frame-ancestors`` already keeps others from framing it), so
every ``postMessage`` names that exact origin. A campaign of an account with no
``parent_origins`` does not speak at all.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

from shared.identity.player_settings import PlayerSettings

__all__ = ["DIV_ID_PATTERN", "MESSAGE_TYPES", "MessageChannel", "message_channel"]

#: An element id the loader may name (HTML ids are freer; these are what a tag writes).
DIV_ID_PATTERN: Final = re.compile(r"[A-Za-z][A-Za-z0-9_:.-]{0,99}")
#: The messages of the protocol, in both directions; any other is ignored by both sides.
MESSAGE_TYPES: Final = ("isLoggedIn", "userInfo", "requestParticipantAction", "error")


class MessageChannel(msgspec.Struct, frozen=True, kw_only=True):
    """Where a campaign page sends its messages and how long it waits for an answer."""

    div_id: str
    parent_origin: str
    wait_seconds: int


def message_channel(
    settings: PlayerSettings, div_id: str | None, parent_origin: str | None
) -> MessageChannel | None:
    """The channel of a campaign framed as the loader says, or None when it must not speak.

    ``parent_origin`` must be one of ``settings.parent_origins`` exactly (a single
    registered origin is taken when none is given); ``div_id`` must be a plain element id.
    """
    if not settings.parent_origins or div_id is None or not DIV_ID_PATTERN.fullmatch(div_id):
        return None
    if parent_origin is None and len(settings.parent_origins) == 1:
        parent_origin = settings.parent_origins[0]
    if parent_origin not in settings.parent_origins:
        return None
    return MessageChannel(
        div_id=div_id, parent_origin=parent_origin, wait_seconds=settings.message_wait
    )
