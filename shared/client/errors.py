"""What a failed call to one of the APIs raises, and how an error answer becomes one.

Every failure is one of::

    ApiError                 code, detail, status, retryable, retry_after
    ├── ApiRefused           the API said no (4xx but 429, a 500, an unusable answer);
    │                        the same call will fail again
    └── ApiUnavailable       502/503/504, connection failures, timeouts: retry later
        └── ApiRateLimited   429: wait ``retry_after`` seconds

``code`` is our code when the API gave one (problem+json ``code``, or the OAuth error's
``code`` field: ``TOKEN_EXPIRED``, ``BEARER_INVALID``…), else the OAuth ``error`` in upper
case (``INVALID_CLIENT``), else ``HTTP_<status>``; transport failures are ``API_UNREACHABLE``
or ``API_TIMEOUT`` (retryable), a URL that cannot be used ``API_URL_INVALID``. Retrying is
the caller's choice: :func:`shared.client.retry.call_with_retries`.
"""

from __future__ import annotations

import email.utils
import time
from typing import Final

import msgspec
import requests

__all__ = ["ApiError", "ApiRateLimited", "ApiRefused", "ApiUnavailable", "error_for"]

#: Gateway and outage answers; a 500 is a bug that a retry will not fix.
_RETRYABLE_STATUS: Final = frozenset({502, 503, 504})
#: A Retry-After beyond this is treated as this: a typo'd header must not park us for days.
_MAX_RETRY_AFTER: Final = 3600.0
#: Server details are ours and short; anything longer is cut (it might be a proxy's page).
_MAX_DETAIL: Final = 300


class ApiError(Exception):
    """A call to one of the APIs failed; ``code`` says why (see the module docstring)."""

    retryable: bool = False

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        oauth_error: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        #: The RFC 6749 ``error`` of an Authorization API refusal (``invalid_grant``…).
        self.oauth_error = oauth_error


class ApiRefused(ApiError):
    """The API refused the call; repeating it unchanged will not help."""


class ApiUnavailable(ApiError):
    """The API could not serve the call now (outage, gateway, network): retry later."""

    retryable = True


class ApiRateLimited(ApiUnavailable):
    """429: the account's rate limit; ``retry_after`` is always set."""


def _retry_after(value: str | None) -> float | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when.timestamp() - time.time()), _MAX_RETRY_AFTER)


def error_for(response: requests.Response) -> ApiError:
    """Map an error answer (problem+json, OAuth JSON, or anything else) to an exception."""
    status = response.status_code
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        body = None
    if not isinstance(body, dict):
        body = {}
    oauth_error = body.get("error") if isinstance(body.get("error"), str) else None
    code = body.get("code")
    if not isinstance(code, str) or not code:
        code = oauth_error.upper() if oauth_error else f"HTTP_{status}"
    detail = body.get("detail", body.get("error_description"))
    if not isinstance(detail, str) or not detail:
        detail = f"HTTP {status} from {response.url.split('?', 1)[0]}"
    kind: type[ApiError] = ApiRefused
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if status == 429:
        kind, retry_after = ApiRateLimited, retry_after if retry_after is not None else 1.0
    elif status in _RETRYABLE_STATUS:
        kind = ApiUnavailable
    return kind(
        code,
        detail[:_MAX_DETAIL],
        status=status,
        retry_after=retry_after,
        oauth_error=oauth_error,
    )
