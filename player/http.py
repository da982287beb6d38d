"""What every page route answers with: the campaign's framing, the page response, and the
player's own origin (for the same-origin checks and the SSO ``redirect_uri``)."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

from litestar import Request, Response

from player.errors import page_headers
from player.pages import form_page, gate_page
from shared.identity import CampaignPage, ServedCampaign

__all__ = ["HTML", "frame_ancestors", "own_origin", "page", "step_page"]

#: Litestar adds "; charset=utf-8" to text/ types.
HTML: Final = "text/html"


def frame_ancestors(served: ServedCampaign) -> str:
    """The campaign's ``frame-ancestors``: exact origins only (validated on write); none:
    the campaign cannot be framed."""
    return " ".join(served.settings.parent_origins) or "'none'"


def page(html: str, served: ServedCampaign, status: int = 200) -> Response[str]:
    """A page of ``served``, framable where its campaign is."""
    return Response(
        html, status_code=status, media_type=HTML, headers=page_headers(frame_ancestors(served))
    )


def own_origin(request: Request[Any, Any, Any], public_url: str | None) -> str:
    """The player's origin: ``PLAYER_PUBLIC_URL``'s, else the request's own."""
    if public_url:
        parts = urlsplit(public_url)
        return f"{parts.scheme}://{parts.netloc}"
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


def step_page(shown: CampaignPage) -> Response[str]:
    """The identification step once identified: the form, or the gate when the
    participant may not play."""
    served = shown.served
    if shown.form_token is None:
        return page(gate_page(shown), served)
    return page(
        form_page(shown, f"/play/{served.account}/{served.campaign}/participations"), served
    )
