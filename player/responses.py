"""The player's documented answers: every route's responses, problems, pages and examples
(the operations that carry them are in :mod:`player.openapi`).

The pages' examples are rendered by :mod:`player.pages` itself, so they are what a
participant gets.
"""

from __future__ import annotations

from typing import Final

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example

from player.openapi import EXAMPLE_FORM, HTML
from player.pages import (
    error_page,
    form_page,
    gate_page,
    redirect_page,
    sso_done_page,
    sso_page,
    thanks_page,
    waiting_page,
)
from player.schemas import Liveness, Problem, Readiness
from shared.identity import (
    Campaign,
    CampaignPage,
    Identification,
    MessageChannel,
    PlayerSettings,
    ServedCampaign,
    Submitted,
)
from shared.identity.identification import Gift
from shared.web.openapi import ProblemExample, ok, problem

__all__ = [
    "CAMPAIGN_PAGE_RESPONSES",
    "HEALTH_READY_RESPONSES",
    "HEALTH_RESPONSES",
    "IDENTIFY_RESPONSES",
    "MESSAGE_IDENTIFY_RESPONSES",
    "PARTICIPATION_RESPONSES",
    "SSO_CALLBACK_RESPONSES",
    "SSO_START_RESPONSES",
]


def _problem(description: str, *examples: ProblemExample) -> ResponseSpec:
    """A problem response of ``POST /v1/identify`` or the probes (:class:`Problem`)."""
    return problem(Problem, description, *examples)


def _html(description: str, *examples: tuple[str, str]) -> ResponseSpec:
    """A page, with (summary, HTML) examples."""
    return ResponseSpec(
        str,
        description=description,
        media_type=HTML,
        generate_examples=False,
        examples=[Example(summary=summary, value=value) for summary, value in examples],
    )


def _screen(description: str, *examples: tuple[str, str, bool]) -> ResponseSpec:
    """The error screen (``data-code``), with (summary, code, retryable) examples."""
    return _html(
        description,
        *(
            (summary, error_page(code, retryable=retryable))
            for summary, code, retryable in examples
        ),
    )


_SERVED = ServedCampaign(
    account="acme",
    campaign="1001",
    details=Campaign(title="Summer quiz"),
    settings=PlayerSettings(campaigns={"1001": Campaign(title="Summer quiz")}),
)
_IDENTIFICATION = Identification(
    subject="participant-42",
    prefill={"firstname": "Ada", "email": "ada@example.com", "newsletter": True},
    can_play=True,
    gate=None,
    gift=Gift(label="A bike", can_win=True),
    encrypted=False,
    key_version=None,
    limit=2,
    participations=0,
)
_GATED = Identification(
    subject="participant-42",
    prefill={},
    can_play=False,
    gate="limit",
    gift=None,
    encrypted=True,
    key_version=1,
    limit=2,
    participations=2,
)
_ACTION = "/play/acme/1001/participations"
_CHANNEL = MessageChannel(
    div_id="campaign", parent_origin="https://www.example.com", wait_seconds=120
)

_404_PAGE = _screen(
    "No such campaign (CAMPAIGN_NOT_FOUND): the account is unknown or disabled, or does not "
    "serve it; framable nowhere.",
    ("Unknown campaign", "CAMPAIGN_NOT_FOUND", False),
)
_500_PAGE = _screen(
    "An unexpected failure (logged on our side): the screen offers to try again.",
    ("Internal error", "INTERNAL", True),
)
_503_PAGE = _screen(
    "Not the participant's fault (UNKNOWN): Vault, the account's JWKS endpoint, its profile "
    "API or Redis cannot be used now; the screen offers to try again after Retry-After "
    "seconds.",
    ("Temporarily unavailable", "UNKNOWN", True),
)
_429_DETAIL: Final = (
    "Too many identifications for this account's campaigns right now (RATE_LIMITED: "
    "PLAYER_RATE_LIMIT_*, one budget per account for every instance)"
)
_429_PAGE = _screen(
    _429_DETAIL + "; the screen offers to try again after Retry-After seconds.",
    ("Too many requests", "RATE_LIMITED", True),
)
#: A result id, as the examples show it (43 base64url characters).
_RESULT = "vT2p6yq4V0b3m9Qm8m3b1q7d5s2f0k9Jx4a6c8e0g1h"
_BACK = f"/play/acme/1001?sso_result={_RESULT}"
_SSO_400 = _screen(
    "The sign-in is refused: its `state` (or result id) is unknown, expired, used already "
    "or from another browser (SSO_STATE_INVALID), or its answer names another identity "
    "provider than the one asked (SSO_ISSUER_MISMATCH, RFC 9207).",
    ("Replayed state", "SSO_STATE_INVALID", False),
    ("Mix-up", "SSO_ISSUER_MISMATCH", False),
)
_SSO_403 = _screen(
    "The participant (or the IdP) refused the sign-in (SSO_DENIED: `access_denied`).",
    ("Refused consent", "SSO_DENIED", False),
)
_SSO_502 = _screen(
    "The identity provider refused the code (`invalid_grant`: used twice, expired) or "
    "answered something that is not what it must be (SSO_FAILED): sign in again.",
    ("Code refused", "SSO_FAILED", False),
)
_SSO_503 = _screen(
    "The identity provider is down, too slow or busy (SSO_UNAVAILABLE), or Vault, Redis "
    "cannot be used now (UNKNOWN); try again after Retry-After seconds.",
    ("IdP down", "SSO_UNAVAILABLE", True),
)
_POPUP_DONE = (
    "In a popup: the page that hands the outcome's result id to the campaign frame that "
    "opened it (postMessage to the player's own origin) and closes",
    sso_done_page(_RESULT, _BACK),
)

CAMPAIGN_PAGE_RESPONSES: Final = {
    200: _html(
        'The identification step: the form, prefilled (`data-step="form"`), or the gate '
        'screen when the participant may not take part (`data-step="gate"`, `data-gate` '
        "`conditions` or `limit`); with the messages channel and no token, the waiting page "
        '(`data-step="waiting"`) whose script asks the parent page.',
        (
            "The prefilled form",
            form_page(
                CampaignPage(
                    served=_SERVED, identification=_IDENTIFICATION, form_token=EXAMPLE_FORM
                ),
                _ACTION,
            ),
        ),
        (
            "The gate: every participation used",
            gate_page(CampaignPage(served=_SERVED, identification=_GATED, form_token=None)),
        ),
        (
            "Messages channel: asking the parent page",
            waiting_page(_SERVED, _CHANNEL, "/play/acme/1001"),
        ),
        ("SSO: the sign-in step", sso_page(_SERVED, "/sso/acme/1001", "/play/acme/1001")),
    ),
    400: _html(
        "SSO: the `sso_result` is unknown, expired, used already or for another campaign "
        "(SSO_STATE_INVALID), or the sign-in it names was refused for that reason (or "
        "SSO_ISSUER_MISMATCH); on a page with a messages channel, the parent page is told.",
        ("Unknown result", error_page("SSO_STATE_INVALID", retryable=False)),
        (
            "Mix-up, told to the parent",
            error_page("SSO_ISSUER_MISMATCH", retryable=False, channel=_CHANNEL),
        ),
    ),
    403: _screen(
        "The token is genuine, but the account's profile API refused the access token it "
        "carries (PROFILE_UNAUTHORIZED): the participant signs in again on the customer's "
        "site; or the sign-in `sso_result` names was refused (SSO_DENIED).",
        ("Profile refused", "PROFILE_UNAUTHORIZED", False),
        ("Sign-in refused", "SSO_DENIED", False),
    ),
    404: _404_PAGE,
    422: _screen(
        "The secure token is refused; `data-code` says why (TOKEN_EMPTY, TOKEN_INVALID_FORMAT, "
        "TOKEN_DECRYPTION_FAILED, TOKEN_INVALID_SIGNATURE, TOKEN_EXPIRED, "
        "TOKEN_INVALID_CLAIMS), or it cannot be checked because the account's JWKS endpoint "
        "refuses us (JWKS_REFUSED).",
        ("Expired token", "TOKEN_EXPIRED", False),
        ("No token", "TOKEN_EMPTY", False),
    ),
    429: _429_PAGE,
    500: _500_PAGE,
    502: _html(
        "The sign-in `sso_result` names failed (SSO_FAILED: the code was refused, or the "
        "IdP's answer is not what it must be).",
        ("Sign-in failed", error_page("SSO_FAILED", retryable=False)),
    ),
    503: _html(
        "Not the participant's fault (UNKNOWN): Vault, the account's JWKS endpoint, its "
        "profile API or Redis cannot be used now; or the sign-in `sso_result` names met an "
        "identity provider down or too slow (SSO_UNAVAILABLE). The screen offers to try "
        "again after Retry-After seconds.",
        ("Temporarily unavailable", error_page("UNKNOWN", retryable=True)),
        ("IdP down", error_page("SSO_UNAVAILABLE", retryable=True)),
    ),
}

_BLOCKED = "; on a messages page, the blocked screen, which tells the parent page the code"
MESSAGE_IDENTIFY_RESPONSES: Final = {
    200: CAMPAIGN_PAGE_RESPONSES[200],
    400: _screen(
        "The body is not the waiting page's form (REQUEST_INVALID).",
        ("Not a form", "REQUEST_INVALID", False),
    ),
    403: _html(
        "Posted from another site than the campaign's waiting page (FORM_CROSS_SITE), or the "
        "profile API refused the token's access token (PROFILE_UNAUTHORIZED)" + _BLOCKED + ".",
        ("Cross-site post", error_page("FORM_CROSS_SITE", retryable=False)),
        (
            "Profile refused, told to the parent",
            error_page("PROFILE_UNAUTHORIZED", retryable=False, channel=_CHANNEL),
        ),
    ),
    404: _404_PAGE,
    413: _screen(
        "The body is too large (PAYLOAD_TOO_LARGE); it was not read.",
        ("Too large", "PAYLOAD_TOO_LARGE", False),
    ),
    422: _html(
        "The parent page's JWT is refused; `data-code` says why (the codes of the campaign "
        "page)" + _BLOCKED + ".",
        (
            "Expired token, told to the parent",
            error_page("TOKEN_EXPIRED", retryable=False, channel=_CHANNEL),
        ),
    ),
    429: _html(
        _429_DETAIL + _BLOCKED + ".",
        (
            "Too many requests, told to the parent",
            error_page("RATE_LIMITED", retryable=True, channel=_CHANNEL),
        ),
    ),
    500: _500_PAGE,
    503: _html(
        "Not the participant's fault (UNKNOWN)" + _BLOCKED + ".",
        (
            "Vault down, told to the parent",
            error_page("UNKNOWN", retryable=True, channel=_CHANNEL),
        ),
    ),
}

PARTICIPATION_RESPONSES: Final = {
    200: _html(
        'The participation is recorded (`data-step="thanks"`, `data-participations`, and '
        "`data-remaining` under a limit).",
        (
            "Thanks",
            thanks_page(
                Submitted(
                    account="acme",
                    campaign="1001",
                    subject="participant-42",
                    participations=1,
                    limit=2,
                    fields={"firstname": "Ada"},
                    changed={},
                ),
                "Summer quiz",
            ),
        ),
    ),
    400: _screen(
        "The form is refused: its token is missing, tampered with, expired or for another "
        "campaign (FORM_INVALID), it was sent already (FORM_USED), a field is not the "
        "form's (FORM_INVALID), or the body is not a form (REQUEST_INVALID).",
        ("Expired form", "FORM_INVALID", False),
        ("Sent twice", "FORM_USED", False),
    ),
    403: _screen(
        "The form was posted from another site than the campaign's page (FORM_CROSS_SITE: "
        "`Sec-Fetch-Site` or `Origin` says so).",
        ("Cross-site post", "FORM_CROSS_SITE", False),
    ),
    404: _404_PAGE,
    409: _screen(
        "The participant has used every participation `limit.nb` allows "
        "(PARTICIPATION_LIMIT_REACHED), counted atomically across workers.",
        ("Limit reached", "PARTICIPATION_LIMIT_REACHED", False),
    ),
    413: _screen(
        "The form is too large (PAYLOAD_TOO_LARGE); it was not read.",
        ("Form too large", "PAYLOAD_TOO_LARGE", False),
    ),
    429: _429_PAGE,
    500: _500_PAGE,
    503: _503_PAGE,
}

_503_UNKNOWN: Final = (
    "Redis unreachable",
    503,
    "Temporarily unavailable",
    "UNKNOWN",
    "participations cannot be counted right now; try again in a moment",
)

IDENTIFY_RESPONSES: Final = {
    200: ok(
        Identification,
        "The identification",
        # No null member: Litestar drops them from examples (the answer has them).
        {
            "subject": "participant-42",
            "prefill": {"firstname": "Ada", "email": "ada@example.com", "newsletter": True},
            "can_play": False,
            "gate": "limit",
            "gift": {"label": "A bike", "can_win": True},
            "encrypted": True,
            "key_version": 1,
            "limit": 2,
            "participations": 2,
        },
    ),
    400: _problem(
        "The body is not the documented JSON (REQUEST_INVALID).",
        (
            "Not the expected JSON",
            400,
            "Invalid request",
            "REQUEST_INVALID",
            'the body must be JSON like {"account": "acme", "campaign": "123", "token": '
            '"<JWS or JWE>"}: Object missing required field `account`',
        ),
    ),
    403: _problem(
        "The token is genuine, but the account's profile API refused the access token it "
        "carries (PROFILE_UNAUTHORIZED).",
        (
            "Profile refused",
            403,
            "Profile refused the access token",
            "PROFILE_UNAUTHORIZED",
            "the customer's profile API refused the participant's access token: sign in "
            "again on the customer's site",
        ),
    ),
    404: _problem(
        "No such campaign (CAMPAIGN_NOT_FOUND): the account is unknown or disabled, or does "
        "not serve it.",
        (
            "Unknown campaign",
            404,
            "No such campaign",
            "CAMPAIGN_NOT_FOUND",
            "there is no such campaign",
        ),
    ),
    413: _problem(
        "The body is too large (PAYLOAD_TOO_LARGE); it was not read.",
        ("Body too large", 413, "Request refused", "PAYLOAD_TOO_LARGE", "Request Entity Too Large"),
    ),
    422: _problem(
        "The secure token is refused; `code` says why (TOKEN_EMPTY, TOKEN_INVALID_FORMAT, "
        "TOKEN_DECRYPTION_FAILED, TOKEN_INVALID_SIGNATURE, TOKEN_EXPIRED, "
        "TOKEN_INVALID_CLAIMS), or it cannot be checked because the account's JWKS endpoint "
        "refuses us (JWKS_REFUSED: fix the endpoint, do not retry).",
        ("Expired token", 422, "Token refused", "TOKEN_EXPIRED", "token expired 120 s ago"),
        ("Wrong key", 422, "Token refused", "TOKEN_INVALID_SIGNATURE", "signature does not verify"),
    ),
    429: _problem(
        _429_DETAIL + "; retry after Retry-After seconds.",
        (
            "Too many requests",
            429,
            "Too many requests",
            "RATE_LIMITED",
            "this account's campaigns may identify 500 participants/s (burst 1000); retry later",
        ),
    ),
    500: _problem(
        "An unexpected failure (logged on our side).",
        (
            "Internal error",
            500,
            "Internal error",
            "INTERNAL",
            "unexpected error; it has been logged",
        ),
    ),
    503: _problem(
        "Not the request's fault (UNKNOWN): Vault, the account's JWKS endpoint, its profile "
        "API or Redis cannot be used now; retry after Retry-After seconds.",
        _503_UNKNOWN,
    ),
}

HEALTH_RESPONSES: Final = {200: ok(Liveness, "The process is up", {"status": "ok"})}

HEALTH_READY_RESPONSES: Final = {
    200: ok(Readiness, "Ready", {"status": "ready", "redis": "ok"}),
    503: _problem(
        "Not ready: Redis does not answer (UNKNOWN: no form could be counted), or the form "
        "keys are unread (CONFIGURATION_INVALID: the player has not started).",
        (_503_UNKNOWN[0], 503, "Not ready", *_503_UNKNOWN[3:]),
    ),
}

SSO_START_RESPONSES: Final = {
    200: _html(
        "In a popup, the identity provider cannot be used: " + _POPUP_DONE[0] + " (the "
        "frame shows the error screen, and tells the parent page).",
        ("Popup: handing the error back", _POPUP_DONE[1]),
    ),
    302: _html(
        "To the identity provider's authorization endpoint (`Location`), with the cookie "
        "that binds the sign-in to this browser.",
        ("To the IdP", redirect_page("https://id.example.com/auth?response_type=code", "Sign in")),
    ),
    404: _404_PAGE,
    500: _500_PAGE,
    502: _screen(
        "The identity provider's metadata is not usable (SSO_FAILED: its discovery names "
        "another issuer, lacks an endpoint, is not JSON).",
        ("Bad discovery", "SSO_FAILED", False),
    ),
    503: _SSO_503,
}

SSO_CALLBACK_RESPONSES: Final = {
    200: _html(
        _POPUP_DONE[0] + " (the outcome: who signed in, or the error's code).",
        ("Popup: handing the result back", _POPUP_DONE[1]),
    ),
    303: _html(
        "Signed in (or not): to the campaign page with the single-use `sso_result` "
        "(`Location`), where the form is prefilled.",
        ("Back to the campaign", redirect_page(_BACK, "Back to the campaign")),
    ),
    400: _SSO_400,
    403: _SSO_403,
    404: _404_PAGE,
    500: _500_PAGE,
    502: _SSO_502,
    503: _SSO_503,
}
