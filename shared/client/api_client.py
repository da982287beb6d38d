"""A small client for the two APIs: a bearer from the Authorization API, JWEs from the Crypto API.

For customers' developers and ``tokenctl``: it exchanges credentials for a bearer (RFC 7523:
the secure token itself as a ``jwt-bearer`` assertion, or ``client_credentials`` with a client
assertion signed by the customer's key), caches it, refreshes it before it expires or once
when the Crypto API calls it ``invalid_token``, and encrypts one token or a batch.

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
the caller's choice: :func:`call_with_retries`.
"""

from __future__ import annotations

import email.utils
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, Protocol, TypeVar

import msgspec
import requests
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from shared.wire import CLIENT_ASSERTION_TYPE, CLIENT_CREDENTIALS, JWT_BEARER, Encrypted, ItemError

__all__ = [
    "ApiClient",
    "ApiError",
    "ApiRateLimited",
    "ApiRefused",
    "ApiUnavailable",
    "ClientAssertionGrant",
    "Grant",
    "JwtBearerGrant",
    "Pause",
    "RetryPolicy",
    "call_with_retries",
]

T = TypeVar("T")

#: Gateway and outage answers; a 500 is a bug that a retry will not fix.
_RETRYABLE_STATUS: Final = frozenset({502, 503, 504})
#: A Retry-After beyond this is treated as this: a typo'd header must not park us for days.
_MAX_RETRY_AFTER: Final = 3600.0
#: Server details are ours and short; anything longer is cut (it might be a proxy's page).
_MAX_DETAIL: Final = 300
_JSON: Final = {"Content-Type": "application/json", "Accept": "application/json"}


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


class _Token(msgspec.Struct, frozen=True):
    access_token: str
    expires_in: int


class _Encrypted(msgspec.Struct, frozen=True):
    token: str
    kid: str


class _ItemError(msgspec.Struct, frozen=True):
    code: str
    detail: str = ""


class _Item(msgspec.Struct, frozen=True):
    token: str | None = None
    kid: str | None = None
    error: _ItemError | None = None


class _Batch(msgspec.Struct, frozen=True):
    results: list[_Item]


class Grant(Protocol):
    """How to ask the Authorization API for a bearer."""

    def forms(self, client_id: str, token_endpoint: str) -> Iterator[dict[str, str]]:
        """Token request forms to try in turn; the client asks for the next one only after
        the previous was refused with ``invalid_grant``."""
        ...


class JwtBearerGrant:
    """RFC 7523 §2.1: a secure token (JWS) of the account is the assertion.

    Several candidates may be given (e.g. the first tokens of a file): those the
    Authorization API refuses are dropped, the first accepted one is reused for refreshes.
    """

    def __init__(self, assertions: Sequence[str]) -> None:
        self._assertions = deque(assertions)

    def forms(self, client_id: str, token_endpoint: str) -> Iterator[dict[str, str]]:
        """One form per remaining candidate."""
        while self._assertions:
            yield {
                "grant_type": JWT_BEARER,
                "client_id": client_id,
                "assertion": self._assertions[0],
            }
            # Resumed only when that one was refused: never offer it again.
            self._assertions.popleft()


class ClientAssertionGrant:
    """RFC 7523 §2.2 ``client_credentials``: a fresh client assertion per request, signed
    with the account's key (``private_key_jwt``) or HMAC secret (``client_secret_jwt``):
    ``iss`` = ``sub`` = the account, ``aud`` = the token endpoint, a short ``exp`` and a
    random, single-use ``jti``."""

    def __init__(
        self,
        key: RSAKey | ECKey | OctKey,
        alg: str,
        *,
        kid: str | None = None,
        lifetime: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._alg = alg
        self._kid = kid
        self._lifetime = lifetime
        self._clock = clock

    def assertion(self, client_id: str, token_endpoint: str) -> str:
        """A newly signed client assertion."""
        now = int(self._clock())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": token_endpoint,
            "iat": now,
            "exp": now + self._lifetime,
            "jti": secrets.token_urlsafe(18),
        }
        header: dict[str, Any] = {"alg": self._alg}
        if self._kid:
            header["kid"] = self._kid
        return jwt.encode(header, claims, self._key, algorithms=[self._alg])

    def forms(self, client_id: str, token_endpoint: str) -> Iterator[dict[str, str]]:
        """A single form: another assertion of the same key would be refused the same way."""
        yield {
            "grant_type": CLIENT_CREDENTIALS,
            "client_id": client_id,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": self.assertion(client_id, token_endpoint),
        }


class _Bearer(msgspec.Struct, frozen=True):
    token: str
    #: Monotonic time after which it is not used any more (some margin before its ``exp``).
    refresh_at: float


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


def _error_for(response: requests.Response) -> ApiError:
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


def _bearer_refused(response: requests.Response) -> bool:
    """A 401 saying the bearer itself is bad (RFC 6750 ``invalid_token``): worth one refresh."""
    return response.status_code == 401 and (
        'error="invalid_token"' in response.headers.get("WWW-Authenticate", "")
    )


class ApiClient:
    """Talks to the Authorization API (``authz_url``, its issuer URL) and the Crypto API
    (``crypto_url``) for one account; thread-safe (one HTTP session per thread).

    Every HTTP call has a timeout: ``timeout`` seconds to read an answer, at most 5 to
    connect. A bearer is obtained on first use and reused until a minute before it
    expires (half its lifetime if shorter).
    """

    def __init__(
        self,
        *,
        authz_url: str,
        crypto_url: str,
        account_id: str,
        grant: Grant,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        session_factory: Callable[[], requests.Session] = requests.Session,
    ) -> None:
        self.account_id = account_id
        self.token_endpoint = f"{authz_url.rstrip('/')}/oauth/token"
        self._crypto = crypto_url.rstrip("/")
        self._grant = grant
        self._timeout = (min(5.0, timeout), timeout)
        self._clock = clock
        self._session_factory = session_factory
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        #: Held during an exchange: threads needing a bearer meanwhile wait for that one.
        self._lock = threading.Lock()
        self._bearer: _Bearer | None = None

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every thread's HTTP session."""
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._session_factory()
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session().post(url, timeout=self._timeout, allow_redirects=False, **kwargs)
        except requests.Timeout as exc:
            raise ApiUnavailable("API_TIMEOUT", f"no answer from {url} in time") from exc
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
        ) as exc:
            # A malformed URL: a retry would fail the same way.
            raise ApiRefused("API_URL_INVALID", f"cannot send a request to {url!r}") from exc
        except requests.RequestException as exc:
            # Connection refused, reset, DNS: the request may not have arrived; retry later.
            raise ApiUnavailable("API_UNREACHABLE", f"cannot reach {url}") from exc

    def bearer(self) -> str:
        """A valid bearer for the account, exchanged now if none is cached.

        Raises:
            ApiError: the exchange failed (e.g. ``TOKEN_EXPIRED`` for a refused jwt-bearer
                assertion, ``INVALID_CLIENT``, ``API_UNREACHABLE``).
        """
        with self._lock:
            current = self._bearer
            if current is None or self._clock() >= current.refresh_at:
                current = self._bearer = self._exchange()
            return current.token

    def _renew(self, stale: str) -> str:
        """A new bearer, unless another thread already replaced ``stale``."""
        with self._lock:
            if self._bearer is None or self._bearer.token == stale:
                self._bearer = self._exchange()
            return self._bearer.token

    def _exchange(self) -> _Bearer:
        forms = self._grant.forms(self.account_id, self.token_endpoint)
        form = next(forms, None)
        if form is None:
            raise ApiRefused("NO_CREDENTIALS", "no assertion left to exchange for a bearer")
        while True:
            started = self._clock()
            response = self._post(
                self.token_endpoint, data=form, headers={"Accept": "application/json"}
            )
            if response.status_code == 200:
                issued = self._decode(response, _Token)
                margin = min(60.0, issued.expires_in / 2)
                return _Bearer(issued.access_token, started + issued.expires_in - margin)
            error = _error_for(response)
            if error.oauth_error != "invalid_grant":
                raise error
            following = next(forms, None)
            if following is None:
                raise error
            form = following

    def _authorized(self, path: str, body: bytes) -> requests.Response:
        """POST to the Crypto API with the bearer; one refresh on ``invalid_token``."""
        url = f"{self._crypto}{path}"
        bearer = self.bearer()
        response = self._post(
            url, data=body, headers={**_JSON, "Authorization": f"Bearer {bearer}"}
        )
        if _bearer_refused(response):
            # Expired early (clock skew), or the Authorization API's keys changed.
            bearer = self._renew(bearer)
            response = self._post(
                url, data=body, headers={**_JSON, "Authorization": f"Bearer {bearer}"}
            )
        return response

    @staticmethod
    def _decode(response: requests.Response, kind: type[T]) -> T:
        try:
            return msgspec.json.decode(response.content, type=kind)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            raise ApiRefused(
                "RESPONSE_INVALID",
                f"unexpected answer from {response.url}: {exc}",
                status=response.status_code,
            ) from None

    def encrypt(self, token: str) -> Encrypted:
        """Encrypt one JWS: the Crypto API verifies it for the account, then seals it.

        Raises:
            ApiRefused: e.g. ``TOKEN_EXPIRED`` (422), ``BEARER_INVALID`` (401).
            ApiUnavailable: ``UNKNOWN`` (503), ``RATE_LIMITED`` (429), transport failures.
        """
        response = self._authorized("/v1/encrypt", msgspec.json.encode({"token": token}))
        if response.status_code != 200:
            raise _error_for(response)
        result = self._decode(response, _Encrypted)
        return Encrypted(token=result.token, kid=result.kid)

    def encrypt_batch(self, tokens: Sequence[str]) -> list[Encrypted | ItemError]:
        """Encrypt many JWSs in one call: per token a JWE or its refusal, in input order.

        Raises:
            ApiRefused, ApiUnavailable: the whole call failed (no item was done).
        """
        response = self._authorized(
            "/v1/encrypt/batch", msgspec.json.encode({"tokens": list(tokens)})
        )
        if response.status_code != 200:
            raise _error_for(response)
        items = self._decode(response, _Batch).results
        if len(items) != len(tokens):
            raise ApiRefused(
                "RESPONSE_INVALID",
                f"{len(items)} results for {len(tokens)} tokens",
                status=response.status_code,
            )
        results: list[Encrypted | ItemError] = []
        for item in items:
            if item.error is not None:
                results.append(ItemError(code=item.error.code, detail=item.error.detail))
            elif item.token is not None and item.kid is not None:
                results.append(Encrypted(token=item.token, kid=item.kid))
            else:
                raise ApiRefused("RESPONSE_INVALID", "a batch item has neither token nor error")
        return results


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How :func:`call_with_retries` waits. 429s do not count as retries: they are the
    account's pace, and are waited out (``Retry-After``) for up to ``rate_limit_patience``
    seconds in total."""

    retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    rate_limit_patience: float = 900.0

    def backoff(self, attempt: int) -> float:
        """Exponential back-off with jitter (half fixed, half random) for retry ``attempt``
        (0-based): spread out, so that clients failing together do not return together."""
        ceiling = min(self.max_delay, self.base_delay * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


class Pause:
    """A moment before which no call should start, shared by threads: a 429 for one call
    of an account is a 429 for all of them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0
        self._lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        """No call before ``seconds`` from now (a later hold wins)."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def remaining(self) -> float:
        """Seconds until calls may start again (0 when they may now)."""
        with self._lock:
            return max(0.0, self._until - self._clock())


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    pause: Pause | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[ApiError, float], None] | None = None,
) -> T:
    """``call()``, retried on :class:`ApiUnavailable`: at most ``policy.retries`` times with
    back-off (at least the answer's ``Retry-After``), and 429s waited out without counting.

    Raises:
        ApiRefused: at once (a retry would not help).
        ApiUnavailable: the last failure, once the retries or the patience are spent.
    """
    attempt = 0
    rate_limited_for = 0.0
    while True:
        while pause is not None and (wait := pause.remaining()) > 0:
            sleep(wait)
        try:
            return call()
        except ApiRateLimited as exc:
            failure: ApiError = exc
            wait = exc.retry_after or 1.0
            if rate_limited_for + wait > policy.rate_limit_patience:
                raise
            rate_limited_for += wait
            if pause is not None:
                pause.hold(wait)
            # A little jitter: callers woken together should not all hit a bucket that
            # has just refilled for one of them.
            delay = wait + random.uniform(0, 0.25)  # noqa: S311 - jitter, not a secret
        except ApiUnavailable as exc:
            failure = exc
            if attempt >= policy.retries:
                raise
            delay = max(policy.backoff(attempt), exc.retry_after or 0.0)
            attempt += 1
        if on_wait is not None:
            on_wait(failure, delay)
        sleep(delay)
