"""The player's HTML pages, as plain strings with every value escaped (no template
engine: four small pages, and nothing of the participant's is ever written unescaped).

Each page says what it is in ``data-`` attributes (``data-step``, ``data-code``,
``data-gate``) so a test, or a customer's front end, reads the state without parsing text.
"""

from __future__ import annotations

from html import escape
from typing import Final

from shared.identity import CampaignPage, MessageChannel, ServedCampaign, Submitted

__all__ = [
    "error_page",
    "form_page",
    "gate_page",
    "redirect_page",
    "sso_done_page",
    "sso_page",
    "thanks_page",
    "waiting_page",
]

#: The fields every identification form has, in order; prefilled fields come after.
BASE_FIELDS: Final = ("firstname", "lastname", "email", "birthdate")
_LABELS: Final = {
    "firstname": "First name",
    "lastname": "Last name",
    "email": "E-mail",
    "birthdate": "Date of birth",
}
_TYPES: Final = {"email": "email", "birthdate": "date"}
#: A plain sentence per code a participant may see (DESIGN §11: a §2 code or a sentence).
SENTENCES: Final = {
    "TOKEN_EMPTY": "This campaign needs you to sign in on the organiser's site first.",
    "TOKEN_INVALID_FORMAT": "The link you followed is damaged: open it again from the "
    "organiser's site.",
    "TOKEN_EXPIRED": "Your link has expired: open the campaign again from the organiser's site.",
    "TOKEN_INVALID_SIGNATURE": "Your link could not be checked: open the campaign again from "
    "the organiser's site.",
    "TOKEN_DECRYPTION_FAILED": "Your link could not be read: open the campaign again from the "
    "organiser's site.",
    "TOKEN_INVALID_CLAIMS": "Your link is not for this campaign: open it again from the "
    "organiser's site.",
    "PROFILE_UNAUTHORIZED": "Your session on the organiser's site has ended: sign in there again.",
    "UNKNOWN": "Something went wrong on our side, not yours. Please try again in a moment.",
    "CAMPAIGN_NOT_FOUND": "There is no such campaign.",
    "FORM_INVALID": "This form can no longer be sent: reload the campaign.",
    "FORM_USED": "This form was sent already.",
    "FORM_CROSS_SITE": "This form can only be sent from the campaign's own page.",
    "PARTICIPATION_LIMIT_REACHED": "You have already taken part as many times as this "
    "campaign allows.",
    "NOT_ELIGIBLE": "You do not meet the conditions to take part in this campaign.",
    "SSO_STATE_INVALID": "This sign-in is not one this campaign started, or it was used "
    "already: open the campaign and sign in again.",
    "SSO_ISSUER_MISMATCH": "This sign-in came from another site than the organiser's: open "
    "the campaign and sign in again.",
    "SSO_DENIED": "The sign-in was cancelled or refused: sign in to take part.",
    "SSO_FAILED": "The sign-in did not succeed: open the campaign and sign in again.",
    "SSO_UNAVAILABLE": "The organiser's sign-in service does not answer right now. Please try "
    "again in a moment.",
}
_GENERIC: Final = "This campaign cannot be shown: please try again later."


def _document(title: str, body: str, *, script: bool = False) -> str:
    # The messages script comes from the player itself (the CSP allows 'self' only).
    tag = '<script src="/kit/campaign.js" defer></script>' if script else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="/kit/player.css">{tag}</head>'
        f"<body>{body}</body></html>\n"
    )


def _channel(channel: MessageChannel | None) -> str:
    """The attributes campaign.js reads: whom to speak to, and how long to wait."""
    if channel is None:
        return ""
    return (
        f' data-qual-div="{escape(channel.div_id)}"'
        f' data-qual-parent="{escape(channel.parent_origin)}"'
        f' data-qual-wait="{channel.wait_seconds}"'
    )


def _channel_fields(channel: MessageChannel) -> str:
    return (
        f'<input type="hidden" name="qual_div" value="{escape(channel.div_id)}">'
        f'<input type="hidden" name="qual_parent" value="{escape(channel.parent_origin)}">'
    )


def waiting_page(served: ServedCampaign, channel: MessageChannel, action: str) -> str:
    """The identification step of the messages channel before the parent page answered:
    campaign.js asks it, then posts the JWT it receives to ``action``. ``data-state`` says
    where it is (``asking``, ``prelogin``, ``verifying``, ``timeout``)."""
    title = served.details.title
    body = (
        f'<main data-step="waiting" data-state="asking"{_channel(channel)}>'
        f"<h1>{escape(title)}</h1>"
        '<section data-when="asking"><div class="spinner" aria-hidden="true"></div>'
        "<p>Checking whether you are signed in on the organiser's site…</p></section>"
        '<section data-when="prelogin" hidden><p>Sign in on the organiser\'s site to take '
        'part.</p><button type="button" data-ask>I have signed in</button></section>'
        '<section data-when="verifying" hidden><div class="spinner" aria-hidden="true">'
        "</div><p>Checking your details…</p></section>"
        '<section data-when="timeout" hidden data-code="TOKEN_EMPTY">'
        "<p>The organiser's site did not answer: we cannot tell who you are.</p>"
        '<button type="button" data-ask>Try again</button></section>'
        f'<form id="qual-identify" method="post" action="{escape(action)}" hidden>'
        f'<input type="hidden" name="qual_token" value="">{_channel_fields(channel)}</form>'
        "</main>"
    )
    return _document(title, body, script=True)


def _input(name: str, value: str | bool) -> str:
    label = escape(_LABELS.get(name, name.replace("_", " ").capitalize()))
    if isinstance(value, bool):
        checked = " checked" if value else ""
        return (
            f'<label class="optin"><input type="checkbox" name="{escape(name)}" value="on"'
            f"{checked}> {label}</label>"
        )
    kind = _TYPES.get(name, "text")
    return (
        f'<label>{label} <input type="{kind}" name="{escape(name)}" '
        f'value="{escape(value)}" maxlength="1000"></label>'
    )


def form_page(page: CampaignPage, action: str) -> str:
    """The identification form, prefilled."""
    ident = page.identification
    fields: dict[str, str | bool] = dict.fromkeys(BASE_FIELDS, "")
    fields.update(ident.prefill)
    inputs = "".join(_input(name, value) for name, value in fields.items())
    gift = ""
    if ident.gift is not None:
        chance = "You can win it." if ident.gift.can_win else "This prize is not for you."
        gift = (
            f'<p class="gift" data-can-win="{str(ident.gift.can_win).lower()}">'
            f"Prize: <strong>{escape(ident.gift.label)}</strong>. {chance}</p>"
        )
    body = (
        f'<main data-step="form" data-campaign="{escape(page.served.campaign)}">'
        f"<h1>{escape(page.served.details.title)}</h1>{gift}"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="form_token" value="{escape(page.form_token or "")}">'
        f'{inputs}<button type="submit">Take part</button></form></main>'
    )
    return _document(page.served.details.title, body)


def gate_page(page: CampaignPage) -> str:
    """The "you cannot take part" screen (``data-gate``: ``conditions`` or ``limit``)."""
    gate = page.identification.gate or "conditions"
    code = "NOT_ELIGIBLE" if gate == "conditions" else "PARTICIPATION_LIMIT_REACHED"
    body = (
        f'<main data-step="gate" data-gate="{gate}" data-code="{code}">'
        f"<h1>{escape(page.served.details.title)}</h1>"
        f"<p>{escape(SENTENCES[code])}</p></main>"
    )
    return _document(page.served.details.title, body)


def error_page(code: str, *, retryable: bool, channel: MessageChannel | None = None) -> str:
    """The error screen: the code in ``data-code`` and a plain sentence. With a messages
    ``channel``, the blocked state: a spinner, and campaign.js tells the parent page the
    code (the parent decides what the person sees next)."""
    sentence = SENTENCES.get(code, _GENERIC)
    retry = '<p><a href="" data-retry>Try again</a></p>' if retryable else ""
    blocked = ""
    if channel is not None:
        retry = ""  # a reload would lose the parent's token: the parent page decides
        blocked = (
            '<div class="spinner" aria-hidden="true"></div>'
            "<p>You are blocked at the sign-in step: the organiser's site has been told.</p>"
        )
    body = (
        f'<main data-step="error" data-code="{escape(code)}" '
        f'data-retryable="{str(retryable).lower()}"{_channel(channel)}>'
        f"<h1>Sorry</h1><p>{escape(sentence)}</p>{blocked}{retry}</main>"
    )
    return _document("Sorry", body, script=channel is not None)


def thanks_page(submitted: Submitted, title: str) -> str:
    """After an accepted participation."""
    left = ""
    if submitted.limit is not None:
        remaining = max(submitted.limit - submitted.participations, 0)
        left = f'<p data-remaining="{remaining}">Participations left: {remaining}.</p>'
    body = (
        f'<main data-step="thanks" data-participations="{submitted.participations}">'
        f"<h1>{escape(title)}</h1><p>Thank you for taking part!</p>{left}</main>"
    )
    return _document(title, body)


def sso_page(served: ServedCampaign, start: str, back: str) -> str:
    """The sign-in step of an account identifying by SSO (``data-step="sso"``): a link to
    ``start`` (the IdP, via the player). Framed, campaign.js opens it in a popup and, on its
    result, loads ``back`` with ``sso_result``; at the top, the link is plain navigation."""
    title = served.details.title
    body = (
        f'<main data-step="sso" data-sso-back="{escape(back)}">'
        f"<h1>{escape(title)}</h1>"
        "<p>Sign in with your account on the organiser's site to take part.</p>"
        f'<p><a class="button" href="{escape(start)}" target="_top" data-sso-start>'
        "Sign in</a></p>"
        "<p data-sso-blocked hidden>Your browser blocked the sign-in window: allow pop-ups "
        "for this site, then sign in again.</p></main>"
    )
    return _document(title, body, script=True)


def sso_done_page(result_id: str, back: str) -> str:
    """The popup's last page (``data-step="sso-done"``): campaign.js hands ``result_id`` to
    the campaign frame that opened it (exact origin: the player's own) and closes; without
    that frame, it loads ``back`` here."""
    body = (
        f'<main data-step="sso-done" data-sso-result="{escape(result_id)}" '
        f'data-sso-back="{escape(back)}"><h1>Signed in</h1>'
        f'<p>Back to the campaign… <a href="{escape(back)}">Continue</a></p></main>'
    )
    return _document("Signed in", body, script=True)


def redirect_page(url: str, what: str) -> str:
    """The body of a redirect, for a browser that does not follow it."""
    body = f'<main data-step="redirect"><p><a href="{escape(url)}">{escape(what)}</a></p></main>'
    return _document(what, body)
