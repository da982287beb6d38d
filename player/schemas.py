"""Request and answer shapes of ``POST /v1/identify``."""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.identity import Identification

__all__ = ["IDENTIFY_BODY_MAX", "IdentifyRequest", "IdentifyResponse"]

#: One token (the verifier's own limit is 64 KiB) and the two ids, with room to spare.
IDENTIFY_BODY_MAX = 80 * 1024


class IdentifyRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``{account, campaign, token}``: the token is refused by the verifier, not here, so
    an empty one is ``TOKEN_EMPTY`` like on a page."""

    account: Annotated[str, msgspec.Meta(max_length=63)]
    campaign: Annotated[str, msgspec.Meta(max_length=64)]
    token: str | None = None


#: The identification result (DESIGN §11), as :class:`Identification` is.
IdentifyResponse = Identification
