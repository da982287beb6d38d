"""Route handlers: parse the request, call the player, render a page or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl

import msgspec
from litestar import Request, Response, get, post

from player.errors import API_HANDLERS, PAGE_HANDLERS, RequestInvalid, page_error
from player.http import HTML, frame_ancestors, own_origin, step_page
from player.http import page as page_response
from player.openapi import (
    AccountId,
    CampaignId,
    DocumentedOperation,
    IdentifyOperation,
    MessageIdentifyOperation,
    PageOperation,
    ParticipationOperation,
    QualDiv,
    QualParent,
    QualToken,
    SsoResult,
)
from player.pages import thanks_page, waiting_page
from player.responses import (
    CAMPAIGN_PAGE_RESPONSES,
    HEALTH_READY_RESPONSES,
    HEALTH_RESPONSES,
    IDENTIFY_RESPONSES,
    MESSAGE_IDENTIFY_RESPONSES,
    PARTICIPATION_RESPONSES,
)
from player.schemas import IDENTIFY_BODY_MAX, IdentifyRequest
from player.sso_routes import SSO_ROUTES, sso_step
from shared.errors import ServiceError
from shared.identity import (
    FormCrossSite,
    MessageChannel,
    Player,
    ServedCampaign,
    message_channel,
)
from shared.identity.sso import SsoClient
from shared.identity.submission import MAX_FIELDS
from shared.web.dependencies import Injected
from shared.web.health import NotReady, liveness_route, readiness_route

__all__ = ["ROUTES"]

_STATIC: Final = Path(__file__).parent / "static"
#: A form of MAX_FIELDS fields of 1000 characters, and its token.
_FORM_BODY_MAX: Final = MAX_FIELDS * 1100 + 70 * 1024
#: The waiting page's form: one token (the verifier's limit is 64 KiB) and the channel.
_MESSAGE_BODY_MAX: Final = 70 * 1024


def _channel(
    served: ServedCampaign, div_id: str | None, parent_origin: str | None
) -> MessageChannel | None:
    # A messages page speaks to its parent; an SSO page only tells it a refusal's code.
    if served.settings.identification not in ("messages", "sso"):
        return None
    return message_channel(served.settings, div_id, parent_origin)


async def _step(
    player: Player, served: ServedCampaign, token: str | None, channel: MessageChannel | None
) -> Response[str]:
    """The identification step for ``token``: the form, the gate or the error screen (the
    blocked one, which tells the parent page, on a messages page)."""
    try:
        shown = await player.page(served, token)
    except ServiceError as exc:
        return page_error(exc, frame_ancestors(served), channel)
    return step_page(shown)


@get(
    "/play/{account:str}/{campaign:str}",
    operation_id="campaignPage",
    summary="A campaign's identification step (HTML)",
    description="Verifies `qual_token` (JWS or JWE) for the campaign and renders the "
    "prefilled form, the gate screen (`data-gate`), or the error screen carrying the "
    "token's code (`data-code`). For an account identifying by messages, with no token: "
    "the waiting page, whose script asks the parent page (`qual_parent`, exactly one of "
    "the account's `parent_origins`) for the participant's JWT. For an account identifying "
    'by SSO, with no token: the sign-in step (`data-step="sso"`), or, with `sso_result`, '
    "the outcome of a finished sign-in (the prefilled form or the error screen). Framable "
    "only by the account's `parent_origins`.",
    tags=["Player"],
    exception_handlers=PAGE_HANDLERS,
    media_type=HTML,
    responses=CAMPAIGN_PAGE_RESPONSES,
    operation_class=PageOperation,
)
async def campaign_page(
    account: AccountId,
    campaign: CampaignId,
    player: Injected[Player],
    sso: Injected[SsoClient],
    *,
    qual_token: QualToken = None,
    qual_div: QualDiv = None,
    qual_parent: QualParent = None,
    sso_result: SsoResult = None,
) -> Response[str]:
    """The identification step of a campaign."""
    served = await player.served(account, campaign)
    channel = _channel(served, qual_div, qual_parent)
    if qual_token is None and served.settings.identification == "sso":
        return await sso_step(player, sso, served, sso_result, channel)
    if qual_token is None and channel is not None:
        action = f"/play/{served.account}/{served.campaign}"
        return page_response(waiting_page(served, channel, action), served)
    return await _step(player, served, qual_token, channel)


def _check_same_origin(request: Request[Any, Any, Any], public_url: str | None) -> None:
    # CSRF: a browser says where a form came from (Fetch Metadata, then Origin); a form
    # posted from any other site is refused. Non-browser clients send neither, and carry
    # no ambient credentials to abuse: the form token is what they must have.
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise FormCrossSite("this form can only be sent from the campaign's own page")
    origin = request.headers.get("origin")
    if origin is not None and origin != own_origin(request, public_url):
        raise FormCrossSite("this form can only be sent from the campaign's own page")


async def _posted_form(request: Request[Any, Any, Any], max_fields: int) -> dict[str, str]:
    """The fields of a form one of the player's own pages posted (refused from elsewhere)."""
    _check_same_origin(request, request.app.state.get("public_url"))
    return _form(await request.body(), max_fields)


def _form(body: bytes, max_fields: int) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=max_fields,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestInvalid(f"the form is malformed: {exc}") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise RequestInvalid("the form repeats a field")
    return fields


@post(
    "/play/{account:str}/{campaign:str}",
    operation_id="identifyFromMessage",
    summary="The parent page's JWT, from the waiting page (HTML)",
    description="The waiting page's script posts the JWT of the parent page's `userInfo` "
    "message here (never verified in the browser); it is verified like a `qual_token` and "
    "the step rendered: the prefilled form, the gate, or the blocked screen whose script "
    "tells the parent page the code (`error`). Refused from another site.",
    tags=["Player"],
    exception_handlers=PAGE_HANDLERS,
    request_max_body_size=_MESSAGE_BODY_MAX,
    media_type=HTML,
    status_code=200,
    responses=MESSAGE_IDENTIFY_RESPONSES,
    operation_class=MessageIdentifyOperation,
)
async def identify_from_message(
    request: Request[Any, Any, Any],
    account: AccountId,
    campaign: CampaignId,
    player: Injected[Player],
) -> Response[str]:
    """Verify the JWT the parent page sent and render the step."""
    served = await player.served(account, campaign)
    try:
        fields = await _posted_form(request, 3)
        unknown = set(fields) - {"qual_token", "qual_div", "qual_parent"}
        if unknown:
            raise RequestInvalid(f"the form has unknown fields: {sorted(unknown)}")
    except ServiceError as exc:
        return page_error(exc, frame_ancestors(served))
    channel = _channel(served, fields.get("qual_div"), fields.get("qual_parent"))
    return await _step(player, served, fields.get("qual_token") or None, channel)


@post(
    "/play/{account:str}/{campaign:str}/participations",
    operation_id="submitParticipation",
    summary="Submit the identification form (HTML)",
    description="Records a participation from a form the player rendered: bound to that "
    "identification by its form token (single use, 30 minutes), refused from another site, "
    "and counted against `limit.nb` atomically across workers.",
    tags=["Player"],
    exception_handlers=PAGE_HANDLERS,
    request_max_body_size=_FORM_BODY_MAX,
    media_type=HTML,
    status_code=200,
    responses=PARTICIPATION_RESPONSES,
    operation_class=ParticipationOperation,
)
async def submit_participation(
    request: Request[Any, Any, Any],
    account: AccountId,
    campaign: CampaignId,
    player: Injected[Player],
) -> Response[str]:
    """Record a submitted form."""
    served = await player.served(account, campaign)
    try:
        fields = await _posted_form(request, MAX_FIELDS + 1)
        form_token = fields.pop("form_token", "")
        submitted = await player.submit(account, campaign, form_token, fields)
    except ServiceError as exc:
        return page_error(exc, frame_ancestors(served))
    return page_response(thanks_page(submitted, served.details.title), served)


@post(
    "/v1/identify",
    operation_id="identify",
    summary="Identify a participant from a secure token",
    description="Verifies the token (JWS or JWE) for the account's campaign and answers "
    "the identification: subject, prefilled fields, whether the participant may play (and "
    "why not: `gate`), the prize, and how the token came. Refusals are problem+json with "
    "the token's code (DESIGN §2); `UNKNOWN` is a 503 to retry.",
    tags=["Identification"],
    exception_handlers=API_HANDLERS,
    request_max_body_size=IDENTIFY_BODY_MAX,
    status_code=200,
    responses=IDENTIFY_RESPONSES,
    operation_class=IdentifyOperation,
)
async def identify(request: Request[Any, Any, Any], player: Injected[Player]) -> Response[Any]:
    """Identify a participant (JSON)."""
    try:
        body = msgspec.json.decode(await request.body(), type=IdentifyRequest)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise RequestInvalid(
            f'the body must be JSON like {{"account": "acme", "campaign": "123", "token": '
            f'"<JWS or JWE>"}}: {exc}'
        ) from None
    result = await player.identify(body.account, body.campaign, body.token)
    return Response(
        msgspec.to_builtins(result),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _static(name: str, media_type: str) -> Response[bytes]:
    return Response(
        (_STATIC / name).read_bytes(),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@get("/kit/embed.js", operation_id="embedScript", include_in_schema=False)
async def embed_script() -> Response[bytes]:
    """The embed loader for customers' pages (a command queue, plain JavaScript)."""
    return _static("embed.js", "text/javascript")


@get("/kit/campaign.js", operation_id="campaignScript", include_in_schema=False)
async def campaign_script() -> Response[bytes]:
    """The campaign page's side of the bilateral messages (plain JavaScript)."""
    return _static("campaign.js", "text/javascript")


@get("/kit/player.css", operation_id="playerStyle", include_in_schema=False)
async def player_style() -> Response[bytes]:
    """The pages' style sheet."""
    return _static("player.css", "text/css")


@readiness_route(
    "Ready when the form keys are read and Redis (participations, used forms) answers. "
    "Vault is not asked: settings and keys are cached to ride out its outages.",
    HEALTH_READY_RESPONSES,
    operation_class=DocumentedOperation,
)
async def health_ready(player: Injected[Player]) -> dict[str, str]:
    """Ready when the form keys are read and Redis answers.

    Raises:
        NotReady: with the reason's code (``UNKNOWN``: Redis is down).
    """
    try:
        return await player.check_ready()
    except ServiceError as exc:
        raise NotReady(exc.code, exc.detail) from exc


ROUTES = [
    campaign_page,
    *SSO_ROUTES,
    identify_from_message,
    submit_participation,
    identify,
    embed_script,
    campaign_script,
    player_style,
    liveness_route(HEALTH_RESPONSES),
    health_ready,
]
