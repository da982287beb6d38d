"""A small client for the two APIs: a bearer from the Authorization API, JWEs from the Crypto API.

For customers' developers and ``tokenctl``: it exchanges credentials for a bearer
(:mod:`shared.client.grants`), caches it, refreshes it before it expires or once when the
Crypto API calls it ``invalid_token``, and encrypts one token or a batch. Failures are the
:class:`~shared.client.errors.ApiError` tree; retrying is the caller's choice
(:func:`~shared.client.retry.call_with_retries`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import msgspec
import requests

from shared.client.errors import ApiRefused, ApiUnavailable, error_for
from shared.client.grants import Grant
from shared.wire import Encrypted, ItemError

__all__ = ["ApiClient"]

T = TypeVar("T")

_JSON: Final = {"Content-Type": "application/json", "Accept": "application/json"}
#: ``invalid_grant`` refusals about the account, not the assertion: the next candidate
#: assertion would meet the same (the account's JWKS endpoint refuses us).
_ACCOUNT_REFUSALS: Final = frozenset({"JWKS_REFUSED"})


class _Token(msgspec.Struct, frozen=True):
    access_token: str
    expires_in: int


class _ItemError(msgspec.Struct, frozen=True):
    """Read leniently (no ``detail`` is still an error); handed on as ``wire.ItemError``."""

    code: str
    detail: str = ""


class _Item(msgspec.Struct, frozen=True):
    token: str | None = None
    kid: str | None = None
    error: _ItemError | None = None


class _Batch(msgspec.Struct, frozen=True):
    results: list[_Item]


class _Bearer(msgspec.Struct, frozen=True):
    token: str
    #: Monotonic time after which it is not used any more (some margin before its ``exp``).
    refresh_at: float


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
            error = error_for(response)
            if error.oauth_error != "invalid_grant" or error.code in _ACCOUNT_REFUSALS:
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
            raise error_for(response)
        return self._decode(response, Encrypted)

    def encrypt_batch(self, tokens: Sequence[str]) -> list[Encrypted | ItemError]:
        """Encrypt many JWSs in one call: per token a JWE or its refusal, in input order.

        Raises:
            ApiRefused, ApiUnavailable: the whole call failed (no item was done).
        """
        response = self._authorized(
            "/v1/encrypt/batch", msgspec.json.encode({"tokens": list(tokens)})
        )
        if response.status_code != 200:
            raise error_for(response)
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
