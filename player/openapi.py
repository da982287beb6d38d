"""The player's OpenAPI document: each route's bodies, parameters and headers (its answers
are in :mod:`player.responses`; why Litestar cannot infer them: :mod:`shared.web.openapi`).
The document's metadata is given where the app is made (:mod:`player.app`).

Handlers read raw bodies, a form or JSON, for precise error codes. The checked-in
``openapi/player.json`` is what every deployment serves, so nothing here depends on the
settings.
"""

from __future__ import annotations

from typing import Annotated, Final

from litestar.openapi.spec import (
    Example,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    RequestBody,
    Schema,
)
from litestar.params import PathParameter, QueryParameter

from player.errors import page_headers
from player.schemas import EXAMPLE_JWS, IdentifyRequest
from shared.identity.prefill import MAX_VALUE_CHARS
from shared.identity.submission import MAX_FIELDS
from shared.web.headers import NO_STORE as NO_STORE_VALUE
from shared.web.headers import STRING, header
from shared.web.openapi import SCALAR_VERSION, StructSchema
from shared.web.openapi import DocumentedOperation as BaseOperation

__all__ = [
    "EXAMPLE_FORM",
    "HTML",
    "SCALAR_VERSION",
    "AccountId",
    "CampaignId",
    "DocumentedOperation",
    "IdentifyOperation",
    "MessageIdentifyOperation",
    "PageOperation",
    "ParticipationOperation",
    "QualDiv",
    "QualParent",
    "QualToken",
    "RedirectOperation",
    "SsoCode",
    "SsoError",
    "SsoErrorDescription",
    "SsoIss",
    "SsoPopup",
    "SsoResult",
    "SsoState",
]

#: The pages' media type (sent with ``; charset=utf-8``).
HTML: Final = "text/html"
_FORM: Final = "application/x-www-form-urlencoded"
#: A visibly fake form token, for the examples.
EXAMPLE_FORM: Final = "fake-form-token"

AccountId = Annotated[
    str, PathParameter(description="The account id.", examples=[Example(value="acme")])
]
CampaignId = Annotated[
    str, PathParameter(description="The campaign id.", examples=[Example(value="1001")])
]
QualToken = Annotated[
    str | None,
    QueryParameter(
        description="The participant's secure token (compact JWS or JWE), as the "
        "customer's site signed (and maybe sealed) it; none is TOKEN_EMPTY.",
        examples=[Example(value=EXAMPLE_JWS)],
    ),
]

QualDiv = Annotated[
    str | None,
    QueryParameter(
        description="Messages channel: the id of the element the embed loader put the "
        "campaign in (the `divId` of its messages).",
        examples=[Example(value="campaign")],
    ),
]
QualParent = Annotated[
    str | None,
    QueryParameter(
        description="Messages channel: the origin of the page that framed the campaign, as "
        "the embed loader saw it; the campaign speaks only to exactly one of the account's "
        "`parent_origins`.",
        examples=[Example(value="https://www.example.com")],
    ),
]

SsoPopup = Annotated[
    str | None,
    QueryParameter(
        description="`1`: the sign-in runs in a popup the campaign frame opened (its end "
        "hands the result to that frame); otherwise the whole window signs in.",
        examples=[Example(value="1")],
    ),
]
SsoResult = Annotated[
    str | None,
    QueryParameter(
        description="SSO: the single-use id of a finished sign-in, for this campaign (from "
        "the callback's redirect, or handed to the frame by its popup).",
        examples=[Example(value="vT2p6yq4V0b3m9Qm8m3b1q7d5s2f0k9Jx4a6c8e0g1h")],
    ),
]


def _callback(description: str, example: str, name: str | None = None) -> object:
    return QueryParameter(name=name, description=description, examples=[Example(value=example)])


SsoState = Annotated[
    str | None, _callback("The `state` the player sent (single use).", "Xq3…", "state")
]
SsoCode = Annotated[
    str | None,
    _callback("The authorization code (redeemed once).", "SplxlOBeZQQYbYS6WxSbIA"),
]
SsoIss = Annotated[
    str | None,
    _callback("The IdP's issuer (RFC 9207): must be the one asked.", "https://id.example.com"),
]
SsoError = Annotated[
    str | None,
    _callback("The IdP's refusal (`access_denied`...).", "access_denied"),
]
SsoErrorDescription = Annotated[
    str | None,
    _callback("The IdP's words (not shown: not ours).", "End-User aborted"),
]

NO_STORE: Final = header("Never cache: the answer is about this request.", STRING, NO_STORE_VALUE)
_EXAMPLE_HEADERS: Final = page_headers("https://www.example.com")
#: What every page answer carries, good or bad (values from :func:`page_headers`).
PAGE_HEADERS: Final = {
    "Content-Security-Policy": header(
        "This origin's scripts, styles and form only; framable only by the account's "
        "`parent_origins` (`frame-ancestors 'none'` without them, or outside a known "
        "campaign).",
        STRING,
        _EXAMPLE_HEADERS["Content-Security-Policy"],
    ),
    "Referrer-Policy": header(
        "A token in the URL never travels to another site.",
        STRING,
        _EXAMPLE_HEADERS["Referrer-Policy"],
    ),
    "X-Content-Type-Options": header(
        "No content sniffing.", STRING, _EXAMPLE_HEADERS["X-Content-Type-Options"]
    ),
    "Cache-Control": NO_STORE,
}


class DocumentedOperation(BaseOperation):
    """A JSON operation answering problems: every problem is no-store; 503 carries
    Retry-After."""

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """The headers of the ``status`` response."""
        if int(status) < 400:
            return {}
        return {"Cache-Control": NO_STORE, **super().headers_for(status)}


class IdentifyOperation(DocumentedOperation):
    """``POST /v1/identify``: JSON in and out."""

    body = RequestBody(
        required=True,
        description="The campaign and the participant's secure token, as JSON (any content "
        "type is read as JSON).",
        content={
            "application/json": OpenAPIMediaType(
                schema=StructSchema(IdentifyRequest),
                examples={
                    "jws": Example(
                        summary="A JWS for campaign 1001",
                        value={"account": "acme", "campaign": "1001", "token": EXAMPLE_JWS},
                    )
                },
            )
        },
    )

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """No-store on the identification too."""
        return {"Cache-Control": NO_STORE} if status == "200" else super().headers_for(status)


class PageOperation(BaseOperation):
    """An HTML operation: every answer, the error screens too, is a page with the page
    headers; 503 carries Retry-After."""

    def __post_init__(self) -> None:
        super().__post_init__()
        responses = self.responses or {}
        # Litestar documents a 400 for any handler with parameters (validation errors); str
        # path and query parameters never fail validation, and refusals are ours.
        litestar_400 = responses.get("400")
        if isinstance(litestar_400, OpenAPIResponse) and HTML not in (litestar_400.content or {}):
            responses.pop("400")

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """The page headers, and Retry-After on a 503."""
        return {**PAGE_HEADERS, **super().headers_for(status)}


class RedirectOperation(PageOperation):
    """An HTML operation that may redirect (302 to the IdP, 303 back to the campaign)."""

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """The page headers, with Location (and the browser binding's cookie to the IdP)."""
        headers = super().headers_for(status)
        if status in ("302", "303"):
            headers["Location"] = header(
                "Where to go next.", STRING, "https://id.example.com/auth?…"
            )
        if status == "302":
            headers["Set-Cookie"] = header(
                "Binds the sign-in to this browser (HttpOnly, SameSite=Lax, Secure over https, "
                "10 minutes).",
                STRING,
                "player_sso=…; HttpOnly; Max-Age=600; Path=/; SameSite=lax",
            )
        return headers


class MessageIdentifyOperation(PageOperation):
    """``POST /play/{account}/{campaign}``: the JWT the parent page sent, from the waiting
    page's script."""

    body = RequestBody(
        required=True,
        description="What the waiting page's script posts: the parent page's `userInfo` JWT "
        "and the channel the page was rendered with (so a refusal is told to that parent).",
        content={
            _FORM: OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.OBJECT,
                    properties={
                        "qual_token": Schema(
                            type=OpenAPIType.STRING,
                            description="The JWT (JWS or JWE); empty is TOKEN_EMPTY.",
                        ),
                        "qual_div": Schema(type=OpenAPIType.STRING, max_length=100),
                        "qual_parent": Schema(type=OpenAPIType.STRING, max_length=300),
                    },
                    required=["qual_token"],
                    additional_properties=False,
                ),
                examples={
                    "userInfo": Example(
                        summary="A JWS from the parent page",
                        value={
                            "qual_token": EXAMPLE_JWS,
                            "qual_div": "campaign",
                            "qual_parent": "https://www.example.com",
                        },
                    )
                },
            )
        },
    )


class ParticipationOperation(PageOperation):
    """``POST /play/{account}/{campaign}/participations``: the form the page rendered."""

    body = RequestBody(
        required=True,
        description="The form as the page rendered it: its `form_token` (single use, 30 "
        "minutes, bound to this campaign and participant) and its fields; a field the form "
        "did not have, or one repeated, is refused.",
        content={
            _FORM: OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.OBJECT,
                    properties={
                        "form_token": Schema(
                            type=OpenAPIType.STRING,
                            description="The form's token, from its hidden input.",
                        )
                    },
                    required=["form_token"],
                    additional_properties=Schema(
                        type=OpenAPIType.STRING,
                        max_length=MAX_VALUE_CHARS,
                        description="A field of the form (checkboxes send `on` when ticked).",
                    ),
                    max_properties=MAX_FIELDS + 1,
                ),
                examples={
                    "form": Example(
                        summary="A prefilled form, sent",
                        value={
                            "form_token": EXAMPLE_FORM,
                            "firstname": "Ada",
                            "lastname": "Lovelace",
                            "email": "ada@example.com",
                            "birthdate": "1990-12-10",
                            "newsletter": "on",
                        },
                    )
                },
            )
        },
    )
