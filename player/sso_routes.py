"""Single sign-on routes (channel 3): start a sign-in at the account's identity provider,
take its answer back, and hand the outcome to the campaign page.

The return path: the callback keeps the outcome (an identification, or an error code) in
Redis under a single-use result id, then either redirects the window to the campaign page
with it (a top-level campaign) or, in the popup a framed campaign opened, renders a page
whose script hands the id to that frame (postMessage to the player's own origin only); the
frame then loads the campaign page with it. The form is prefilled there, as for a token.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.datastructures import Cookie

from player.errors import PAGE_HANDLERS, page_error, page_headers
from player.http import HTML, frame_ancestors, own_origin, page, step_page
from player.openapi import (
    AccountId,
    CampaignId,
    RedirectOperation,
    SsoCode,
    SsoError,
    SsoErrorDescription,
    SsoIss,
    SsoPopup,
    SsoState,
)
from player.pages import redirect_page, sso_done_page, sso_page
from player.responses import SSO_CALLBACK_RESPONSES, SSO_START_RESPONSES
from shared.errors import ServiceError
from shared.identity import Identification, MessageChannel, Player, ServedCampaign
from shared.identity.sso import STATE_TTL, SsoClient
from shared.web.dependencies import Injected

__all__ = ["CALLBACK_PATH", "SSO_COOKIE", "SSO_ROUTES", "sso_step"]

#: The cookie binding a sign-in to the browser that started it.
SSO_COOKIE: Final = "player_sso"
CALLBACK_PATH: Final = "/oauth/callback"


def _campaign_url(account: str, campaign: str, **query: str) -> str:
    url = f"/play/{account}/{campaign}"
    return f"{url}?{urlencode(query)}" if query else url


def _redirect_uri(request: Request[Any, Any, Any]) -> str:
    """Exactly ``$PLAYER_PUBLIC_URL/oauth/callback``, else the request's origin's."""
    public_url: str | None = request.app.state.get("public_url")
    base = public_url.rstrip("/") if public_url else own_origin(request, None)
    return base + CALLBACK_PATH


def _html(html: str, status: int = 200, **headers: str) -> Response[str]:
    # The sign-in's own pages are top-level (a popup, or the whole window): framed nowhere.
    return Response(
        html, status_code=status, media_type=HTML, headers={**page_headers("'none'"), **headers}
    )


async def sso_step(
    player: Player,
    sso: SsoClient,
    served: ServedCampaign,
    result_id: str | None,
    channel: MessageChannel | None,
) -> Response[str]:
    """The campaign page of an account identifying by SSO, without a token: the sign-in
    step, or (with ``result_id``) the outcome of a finished sign-in: the prefilled form, or
    the error screen (which tells the parent page, on a page with a messages channel)."""
    if result_id is None:
        query = {}
        if channel is not None:
            query = {"qual_div": channel.div_id, "qual_parent": channel.parent_origin}
        start = f"/sso/{served.account}/{served.campaign}"
        back = _campaign_url(served.account, served.campaign, **query)
        return page(sso_page(served, start, back), served)
    try:
        identification = await sso.take_result(result_id, served)
        return step_page(player.page_for(served, identification))
    except ServiceError as exc:
        return page_error(exc, frame_ancestors(served), channel)


async def _hand_back(
    sso: SsoClient,
    served: ServedCampaign,
    *,
    popup: bool,
    identification: Identification | None = None,
    error: ServiceError | None = None,
) -> Response[str]:
    """Keep the outcome under a result id for the campaign page and send the window there
    (303), or, in a popup, the page that hands the id to its campaign frame. A failure in
    the whole window is shown where it happened."""
    if error is not None and not popup:
        return page_error(error)
    code = None if error is None else error.code
    try:
        result_id = await sso.put_result(
            served.account, served.campaign, identification=identification, code=code
        )
    except ServiceError as exc:
        return page_error(error or exc)
    back = _campaign_url(served.account, served.campaign, sso_result=result_id)
    if popup:
        return _html(sso_done_page(result_id, back))
    return _html(redirect_page(back, "Back to the campaign"), 303, Location=back)


@get(
    "/sso/{account:str}/{campaign:str}",
    operation_id="ssoStart",
    summary="Start signing in at the account's identity provider (HTML)",
    description="For an account identifying by SSO: redirects (302) to its IdP's "
    "authorization endpoint with `client_id`, `redirect_uri` (exactly the player's "
    "`/oauth/callback`), `scope`, `state` (single use, 10 minutes, bound to this browser by "
    "an HttpOnly cookie), PKCE S256 and, with `openid`, `nonce`. An IdP that cannot be "
    "reached is the error screen (in a popup: handed to the campaign frame).",
    tags=["Player"],
    exception_handlers=PAGE_HANDLERS,
    media_type=HTML,
    responses=SSO_START_RESPONSES,
    operation_class=RedirectOperation,
)
async def sso_start(
    request: Request[Any, Any, Any],
    account: AccountId,
    campaign: CampaignId,
    player: Injected[Player],
    sso: Injected[SsoClient],
    *,
    popup: SsoPopup = None,
) -> Response[str]:
    """Send the participant to the account's identity provider."""
    served = await player.served(account, campaign)
    in_popup = popup == "1"
    redirect_uri = _redirect_uri(request)
    try:
        start = await sso.begin(
            served,
            redirect_uri=redirect_uri,
            binding=request.cookies.get(SSO_COOKIE),
            popup=in_popup,
        )
    except ServiceError as exc:
        return await _hand_back(sso, served, popup=in_popup, error=exc)
    cookie = Cookie(
        key=SSO_COOKIE,
        value=start.binding,
        max_age=STATE_TTL,
        path="/",  # read back by /sso/ too: a second tab keeps the browser's binding
        httponly=True,
        samesite="lax",  # the callback is a top-level GET navigation from the IdP
        secure=redirect_uri.startswith("https://"),  # off on loopback http only
    )
    response = _html(redirect_page(start.url, "Sign in"), 302, Location=start.url)
    response.set_cookie(cookie)
    return response


@get(
    CALLBACK_PATH,
    operation_id="ssoCallback",
    summary="The identity provider's answer (HTML)",
    description="Checks `state` (single use; started in this browser: its cookie) and, when "
    "sent or advertised, `iss` (RFC 9207); redeems the code with the configured client "
    "authentication and PKCE verifier; verifies the ID token (JWKS: `iss`, `aud`, `exp`, "
    "`nonce`); reads the profile from the configured source and maps it. Then redirects "
    "(303) to the campaign page with a single-use `sso_result`, or, in a popup, renders the "
    "page that hands it to the campaign frame. Refusals are the error screen.",
    tags=["Player"],
    exception_handlers=PAGE_HANDLERS,
    media_type=HTML,
    responses=SSO_CALLBACK_RESPONSES,
    operation_class=RedirectOperation,
)
async def sso_callback(
    request: Request[Any, Any, Any],
    player: Injected[Player],
    sso: Injected[SsoClient],
    *,
    oauth_state: SsoState = None,  # Litestar reserves the name ``state``
    code: SsoCode = None,
    iss: SsoIss = None,
    error: SsoError = None,
    error_description: SsoErrorDescription = None,
) -> Response[str]:
    """Finish a sign-in."""
    del error_description  # the IdP's words are not ours to show
    given = {"state": oauth_state, "code": code, "iss": iss, "error": error}
    params = {name: value for name, value in given.items() if value is not None}
    try:
        pending = await sso.pending(params, request.cookies.get(SSO_COOKIE))
    except ServiceError as exc:
        return page_error(exc)
    served = await player.served(pending.account, pending.campaign)
    try:
        identification = await sso.sign_in(served, pending, params)
    except ServiceError as exc:
        return await _hand_back(sso, served, popup=pending.popup, error=exc)
    return await _hand_back(sso, served, popup=pending.popup, identification=identification)


SSO_ROUTES = [sso_start, sso_callback]
