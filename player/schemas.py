"""Wire formats of the player's JSON answers and ``POST /v1/identify``, as msgspec Structs.

The request Struct is what the handler decodes the body with, so the OpenAPI document and
the code share one definition. Problem bodies are built by ``errors._problem``;
:class:`Problem` describes them. Example tokens are visibly fake
(:mod:`shared.web.examples`).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

from shared.identity import Identification
from shared.web.examples import fake_jws

__all__ = [
    "EXAMPLE_JWS",
    "IDENTIFY_BODY_MAX",
    "IdentifyRequest",
    "IdentifyResponse",
    "Liveness",
    "Problem",
    "Readiness",
]

#: One token (the verifier's own limit is 64 KiB) and the two ids, with room to spare.
IDENTIFY_BODY_MAX: Final = 80 * 1024
EXAMPLE_JWS: Final = fake_jws(
    {"alg": "ES256", "typ": "JWT"},
    {
        "sub": "participant-42",
        "campaignId": "1001",
        "exp": 1767225600,
        "profile": {"firstname": "Ada"},
    },
)


class IdentifyRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``{account, campaign, token}``: the token is refused by the verifier, not here, so
    an empty one is ``TOKEN_EMPTY`` like on a page."""

    account: Annotated[str, Meta(max_length=63, description="The account id.", examples=["acme"])]
    campaign: Annotated[str, Meta(max_length=64, description="The campaign id.", examples=["1001"])]
    token: Annotated[
        str | None,
        Meta(
            description="The secure token (compact JWS or JWE); none or empty is TOKEN_EMPTY.",
            examples=[EXAMPLE_JWS],
        ),
    ] = None


#: The identification result (DESIGN §11), as :class:`Identification` is.
IdentifyResponse = Identification


class Problem(msgspec.Struct):
    """RFC 9457 problem details, with our machine-readable ``code``."""

    type: Annotated[
        Literal["about:blank"], Meta(description="No problem types of our own: see code.")
    ]
    title: Annotated[str, Meta(description="The kind of problem, for humans.")]
    status: Annotated[int, Meta(description="The HTTP status.")]
    detail: Annotated[str, Meta(description="What is wrong and what to do, for the developer.")]
    code: Annotated[
        str,
        Meta(
            description="Why, machine-readable: REQUEST_INVALID, PAYLOAD_TOO_LARGE, "
            "CAMPAIGN_NOT_FOUND, PROFILE_UNAUTHORIZED, a secure-token code (TOKEN_EMPTY, "
            "TOKEN_INVALID_FORMAT, TOKEN_DECRYPTION_FAILED, TOKEN_INVALID_SIGNATURE, "
            "TOKEN_EXPIRED, TOKEN_INVALID_CLAIMS), JWKS_REFUSED (the account's JWKS endpoint "
            "refuses us), UNKNOWN (retry), CONFIGURATION_INVALID (readiness: the player has "
            "not started), NOT_FOUND, METHOD_NOT_ALLOWED, INTERNAL.",
            examples=["TOKEN_EXPIRED"],
        ),
    ]


class Liveness(msgspec.Struct):
    """The process is up."""

    status: Literal["ok"]


class Readiness(msgspec.Struct):
    """Ready: the form keys are read and Redis answers."""

    status: Literal["ready"]
    redis: Literal["ok"]
