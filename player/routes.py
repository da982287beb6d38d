"""Route handlers: parse the request, call the player, render a page or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import msgspec
from litestar import Request, Response, get, post

from player.errors import API_HANDLERS, PAGE_HANDLERS, RequestInvalid, page_error, page_headers
from player.openapi import (
    AccountId,
    CampaignId,
    DocumentedOperation,
    IdentifyOperation,
    PageOperation,
    ParticipationOperation,
    QualToken,
)
from player.pages import form_page, gate_page, thanks_page
from player.responses import (
    CAMPAIGN_PAGE_RESPONSES,
    HEALTH_READY_RESPONSES,
    HEALTH_RESPONSES,
    IDENTIFY_RESPONSES,
    PARTICIPATION_RESPONSES,
)
from player.schemas import IDENTIFY_BODY_MAX, IdentifyRequest
from shared.errors import ServiceError
from shared.identity import FormCrossSite, Player, ServedCampaign
from shared.identity.submission import MAX_FIELDS
from shared.web.dependencies import Injected
from shared.web.health import NotReady, liveness_route, readiness_route

__all__ = ["ROUTES"]

_STATIC: Final = Path(__file__).parent / "static"
#: Litestar adds "; charset=utf-8" to text/ types.
_HTML: Final = "text/html"
#: A form of MAX_FIELDS fields of 1000 characters, and its token.
_FORM_BODY_MAX: Final = MAX_FIELDS * 1100 + 70 * 1024


def _frame_ancestors(served: ServedCampaign) -> str:
    # Exact origins only (validated on write); none: the campaign cannot be framed.
    return " ".join(served.settings.parent_origins) or "'none'"


def _page(html: str, served: ServedCampaign, status: int = 200) -> Response[str]:
    return Response(
        html, status_code=status, media_type=_HTML, headers=page_headers(_frame_ancestors(served))
    )


@get(
    "/play/{account:str}/{campaign:str}",
    operation_id="campaignPage",
    summary="A campaign's identification step (HTML)",
    description="Verifies `qual_token` (JWS or JWE) for the campaign and renders the "
    "prefilled form, the gate screen (`data-gate`), or the error screen carrying the "
    "token's code (`data-code`). Framable only by the account's `parent_origins`.",
    tags=["Player"],
    exception_handlers=PAGE_HANDLERS,
    media_type=_HTML,
    responses=CAMPAIGN_PAGE_RESPONSES,
    operation_class=PageOperation,
)
async def campaign_page(
    account: AccountId,
    campaign: CampaignId,
    player: Injected[Player],
    qual_token: QualToken = None,
) -> Response[str]:
    """The identification step of a campaign."""
    served = await player.served(account, campaign)
    try:
        page = await player.page(served, qual_token)
    except ServiceError as exc:
        return page_error(exc, _frame_ancestors(served))
    if page.form_token is None:
        return _page(gate_page(page), served)
    return _page(form_page(page, f"/play/{account}/{campaign}/participations"), served)


def _own_origin(request: Request[Any, Any, Any], public_url: str | None) -> str:
    if public_url:
        parts = urlsplit(public_url)
        return f"{parts.scheme}://{parts.netloc}"
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


def _check_same_origin(request: Request[Any, Any, Any], public_url: str | None) -> None:
    # CSRF: a browser says where a form came from (Fetch Metadata, then Origin); a form
    # posted from any other site is refused. Non-browser clients send neither, and carry
    # no ambient credentials to abuse: the form token is what they must have.
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise FormCrossSite("this form can only be sent from the campaign's own page")
    origin = request.headers.get("origin")
    if origin is not None and origin != _own_origin(request, public_url):
        raise FormCrossSite("this form can only be sent from the campaign's own page")


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
    media_type=_HTML,
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
        _check_same_origin(request, request.app.state.get("public_url"))
        try:
            pairs = parse_qsl(
                (await request.body()).decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=False,
                max_num_fields=MAX_FIELDS + 1,
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise RequestInvalid(f"the form is malformed: {exc}") from None
        fields = dict(pairs)
        if len(fields) != len(pairs):
            raise RequestInvalid("the form repeats a field")
        form_token = fields.pop("form_token", "")
        submitted = await player.submit(account, campaign, form_token, fields)
    except ServiceError as exc:
        return page_error(exc, _frame_ancestors(served))
    return _page(thanks_page(submitted, served.details.title), served)


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
    submit_participation,
    identify,
    embed_script,
    player_style,
    liveness_route(HEALTH_RESPONSES),
    health_ready,
]
