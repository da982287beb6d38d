"""Fetching customers' JWKS endpoints: the only module that makes HTTP calls to customers.

Defences, because the URL is the customer's and its server may misbehave:

- a hard wall-clock deadline on the whole fetch, headers included, and only public
  addresses (checked where the socket connects): see :mod:`shared.tokens.jwks_transport`;
- one fetch per URL at a time, its other callers sharing its outcome (waiting at most until
  its deadline), and at most ``max_blocked_per_uri`` threads blocked per URL
  (``max_blocked_total`` over all): beyond, :class:`~shared.errors.JwksBusy` at once, so a
  slow endpoint cannot hold the worker threads every tenant shares;
- a response size cap, no redirects, JSON only;
- a TTL cache with stale-if-error and background refresh (past 3/4 of the TTL, a JWKS in
  use is refetched off the request path), and at most one refresh per ``min_refresh_interval`` per
  URL when a token names an unknown ``kid`` (a flood of made-up kids cannot hammer the
  endpoint);
- only public RSA/EC signature keys are kept; a key with private parts is skipped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import msgspec
import requests
import urllib3.exceptions
from joserfc import jwk
from joserfc.jwk import ECKey, RSAKey
from joserfc.util import urlsafe_b64decode

from shared.algorithms import EC_CURVE_FOR_ALG, MIN_RSA_BITS
from shared.errors import JwksBusy, JwksUnavailable
from shared.tokens.cache import run_in_background
from shared.tokens.jwks_transport import AddressPolicy, Deadline, guarded_adapter, quiet_urllib3

__all__ = ["JwksFetcher", "refuses"]

# The name operators filter on, kept when the module moved into shared/tokens/.
_log = logging.getLogger("shared.jwks")
#: How much longer than a fetch's deadline its waiters give it (the timer's own latency).
_WAIT_SLACK: Final = 0.5

_KTY_FOR_PREFIX: Final = {"RS": "RSA", "ES": "EC"}
#: Fraction of the TTL after which a JWKS in use is refetched in the background.
_REFRESH_AHEAD: Final = 0.75
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})
#: 4xx answers that do say "try again later" (timeout, too early, rate limit).
_RETRY_LATER: Final = frozenset({408, 425, 429})


def refuses(status: int | None) -> bool:
    """True when an endpoint's answer says its URL is wrong or closed to us, so that no
    retry helps: a redirect (never followed), or a 4xx but 408, 425 and 429."""
    return status is not None and 300 <= status < 500 and status not in _RETRY_LATER


class _Jwk(msgspec.Struct, frozen=True):
    key: RSAKey | ECKey
    #: The JWK's own ``alg`` member, when it pins one.
    alg: str | None


class _Entry(msgspec.Struct):
    keys: dict[str, _Jwk]
    fetched_at: float
    attempted_at: float


def _usable(jwk_: _Jwk, alg: str) -> bool:
    key = jwk_.key
    if jwk_.alg not in (None, alg):
        return False
    if _KTY_FOR_PREFIX.get(alg[:2]) != key.key_type:
        return False
    return not (isinstance(key, ECKey) and EC_CURVE_FOR_ALG.get(alg) != key.curve_name)


class JwksFetcher:
    """Fetches and caches JWKS documents by URL; thread-safe."""

    def __init__(
        self,
        *,
        timeout: float = 3.0,
        max_bytes: int = 64 * 1024,
        ttl: float = 300.0,
        stale_if_error: float = 3600.0,
        min_refresh_interval: float = 30.0,
        failure_backoff: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
        public_only: bool = True,
        allow_loopback: bool = False,
        max_blocked_per_uri: int = 4,
        max_blocked_total: int = 16,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.stale_if_error = stale_if_error
        self.min_refresh_interval = min_refresh_interval
        self.failure_backoff = failure_backoff
        #: Threads blocked on one URL's fetch at once (the fetcher and its waiters), and on
        #: all URLs: the rest are refused at once, so one tenant's slow endpoint cannot hold
        #: the worker threads every tenant shares.
        self.max_blocked_per_uri = max_blocked_per_uri
        self.max_blocked_total = max_blocked_total
        self._clock = clock
        self._session = session or requests.Session()
        self._session.trust_env = False  # no proxy from the environment: it would bypass the checks
        adapter = guarded_adapter(
            AddressPolicy(public_only=public_only, allow_loopback=allow_loopback)
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        quiet_urllib3()
        self._entries: dict[str, _Entry] = {}
        #: When a URL with nothing cached last failed: such URLs are not asked again for
        #: ``failure_backoff`` seconds, so a down endpoint is not hit once per token.
        self._failed_at: dict[str, tuple[float, JwksUnavailable]] = {}
        self._guard = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self._busy: dict[str, int] = {}
        self._busy_total = 0
        self._refreshing: set[str] = set()
        self._refreshing_guard = threading.Lock()

    def key(
        self, uri: str, kid: str, alg: str, *, account_id: str | None = None
    ) -> RSAKey | ECKey | None:
        """The key ``kid`` from ``uri``'s JWKS if it can verify ``alg``; None if unknown.
        ``account_id`` (whose token needs the key) is named in the log of a failed fetch.

        Raises:
            JwksUnavailable: the endpoint failed and nothing usable is cached; ``status``
                is what it answered, if it answered (kept through the back-off).
        """
        entry = self._current(uri, account_id)
        if (
            kid not in entry.keys
            and self._clock() - entry.attempted_at >= self.min_refresh_interval
        ):
            entry = self._refresh(uri, force=True, account_id=account_id)
        found = entry.keys.get(kid)
        if found is None or not _usable(found, alg):
            return None
        return found.key

    def available(self, uri: str) -> None:
        """Raise :class:`JwksUnavailable` unless ``uri``'s JWKS is cached or fetchable."""
        self._current(uri)

    def _current(self, uri: str, account_id: str | None = None) -> _Entry:
        entry = self._entries.get(uri)
        now = self._clock()
        if entry is not None and now - entry.fetched_at < self.ttl:
            if now - entry.fetched_at >= self.ttl * _REFRESH_AHEAD:
                self._refresh_in_background(uri, entry, account_id)
            return entry
        return self._refresh(uri, force=False, account_id=account_id)

    def _refresh_in_background(self, uri: str, entry: _Entry, account_id: str | None) -> None:
        """Past 3/4 of the TTL, refetch off the request path (at most once per interval)."""
        if self._clock() - entry.attempted_at < self.min_refresh_interval:
            return
        with self._refreshing_guard:
            if uri in self._refreshing:
                return
            self._refreshing.add(uri)

        def run() -> None:
            try:
                self._refresh(uri, force=True, account_id=account_id)
            except Exception:  # noqa: BLE001, S110 - the cached keys stay; never crash a thread
                pass
            finally:
                with self._refreshing_guard:
                    self._refreshing.discard(uri)

        run_in_background(run)

    def _refresh(self, uri: str, *, force: bool, account_id: str | None = None) -> _Entry:
        with self._guard:
            busy = self._busy.get(uri, 0)
            if busy >= self.max_blocked_per_uri or self._busy_total >= self.max_blocked_total:
                entry = self._entries.get(uri)
                if (
                    not force
                    and entry is not None
                    and self._clock() - entry.fetched_at < self.ttl + self.stale_if_error
                ):
                    # Expired but usable: other tenants' slow endpoints filling the caps
                    # must not turn away a tenant whose keys we hold.
                    return entry
                # Beyond this, callers would only hold worker threads other tenants need.
                raise JwksBusy(
                    f"{busy} requests already wait on this JWKS endpoint "
                    f"({self._busy_total} on all endpoints)"
                )
            self._busy[uri] = busy + 1
            self._busy_total += 1
        try:
            return self._refresh_shared(uri, force=force, account_id=account_id)
        finally:
            with self._guard:
                self._busy_total -= 1
                if self._busy[uri] == 1:
                    del self._busy[uri]
                else:
                    self._busy[uri] -= 1

    def _refresh_shared(self, uri: str, *, force: bool, account_id: str | None) -> _Entry:
        with self._guard:
            now = self._clock()
            entry = self._entries.get(uri)
            if entry is None:
                failed = self._failed_at.get(uri)
                if failed is not None and now - failed[0] < self.failure_backoff:
                    # The same cause (and status) as the fetch that failed: a 404 stays a
                    # 404 for the callers of the back-off, not a vaguer "failed recently".
                    raise JwksUnavailable(
                        f"{failed[1].detail} (failed {now - failed[0]:.1f} s ago; not "
                        f"retried before {self.failure_backoff} s)",
                        status=failed[1].status,
                    )
            else:
                recently = now - entry.attempted_at < self.min_refresh_interval
                if force and recently:
                    return entry  # unknown kids: at most one refetch per interval
                if not force and now - entry.fetched_at < self.ttl:
                    return entry  # someone else refreshed meanwhile
                failed_recently = recently and entry.attempted_at > entry.fetched_at
                if failed_recently and now - entry.fetched_at < self.ttl + self.stale_if_error:
                    return entry  # a refresh just failed: back off, serve stale
            flight = self._flights.get(uri)
            if flight is None:
                flight = self._flights[uri] = _Flight(time.monotonic() + self.timeout)
                if entry is not None:
                    entry.attempted_at = now
                leading = True
            else:
                leading = False
        if not leading:
            return flight.outcome()
        try:
            keys = self._fetch(uri)
        except JwksUnavailable as exc:
            _log_failure(uri, exc, account_id)
            with self._guard:
                # Recorded now, after the fetch: from before it, a fetch longer than the
                # back-off would have let every waiter refetch in turn.
                if entry is None:
                    self._failed_at[uri] = (self._clock(), exc)
                stale = (
                    entry is not None and now - entry.fetched_at < self.ttl + self.stale_if_error
                )
                del self._flights[uri]
            flight.finish(entry if stale else None, exc)
            if stale and entry is not None:
                return entry
            raise
        except BaseException:
            # Whatever went wrong, the URL must not stay "being fetched" for ever.
            with self._guard:
                del self._flights[uri]
            flight.finish(None, JwksUnavailable("the JWKS fetch failed"))
            raise
        with self._guard:
            self._failed_at.pop(uri, None)
            fresh = _Entry(keys=keys, fetched_at=now, attempted_at=now)
            self._entries[uri] = fresh
            del self._flights[uri]
        flight.finish(fresh, None)
        return fresh

    def _fetch(self, uri: str) -> dict[str, _Jwk]:
        deadline = Deadline(self.timeout)
        late = f"JWKS endpoint took longer than {self.timeout} s"
        try:
            with (
                deadline.running(),
                self._session.get(
                    uri,
                    timeout=(self.timeout, self.timeout),
                    stream=True,
                    allow_redirects=False,
                    headers={"Accept": "application/jwk-set+json, application/json"},
                ) as response,
            ):
                if response.status_code != 200:
                    raise JwksUnavailable(
                        f"JWKS endpoint answered HTTP {response.status_code}",
                        status=response.status_code,
                    )
                body = bytearray()
                # read1 returns whatever has arrived: iter_content(n) would wait for n bytes.
                while chunk := response.raw.read1(8192, decode_content=True):
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise JwksUnavailable(f"JWKS is larger than {self.max_bytes} bytes")
                if deadline.expired:  # the socket was shut down: what came is truncated
                    raise JwksUnavailable(late)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if deadline.expired:
                raise JwksUnavailable(late) from exc
            raise JwksUnavailable(f"JWKS endpoint unreachable: {type(exc).__name__}") from exc
        return _parse(bytes(body))


class _Flight:
    """One fetch in progress for a URL: its other callers wait for its outcome."""

    def __init__(self, ends: float) -> None:
        self.ends = ends
        self._done = threading.Event()
        self._entry: _Entry | None = None
        self._error: JwksUnavailable | None = None

    def finish(self, entry: _Entry | None, error: JwksUnavailable | None) -> None:
        self._entry, self._error = entry, error
        self._done.set()

    def outcome(self) -> _Entry:
        """The fetch's entry, waiting at most until its deadline (plus a little slack).

        Raises:
            JwksUnavailable: the fetch failed, or is still running past its deadline.
        """
        if not self._done.wait(max(0.0, self.ends - time.monotonic()) + _WAIT_SLACK):
            raise JwksUnavailable("a fetch of this JWKS endpoint is still running")
        if self._entry is not None:
            return self._entry
        if self._error is None:
            raise JwksUnavailable("the JWKS fetch failed")
        raise JwksUnavailable(self._error.detail, status=self._error.status)


def _log_failure(uri: str, exc: JwksUnavailable, account_id: str | None) -> None:
    """One warning per failed fetch: which account, which dependency, what it answered
    (our words and the status; never remote bytes, never the URL's query)."""
    where = _loggable(uri)
    whose = f" (account {account_id})" if account_id else ""
    _log.warning(
        "JWKS fetch failed for %s%s: %s",
        where,
        whose,
        exc.detail,
        extra={"dependency": "jwks", "account_id": account_id, "status": exc.status},
    )


def _loggable(uri: str) -> str:
    """The URL without its query or fragment (they may carry a customer's credentials)."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _parse(body: bytes) -> dict[str, _Jwk]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise JwksUnavailable("JWKS is not JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksUnavailable("JWKS has no 'keys' array")
    keys: dict[str, _Jwk] = {}
    for data in document["keys"]:
        if not isinstance(data, dict) or not isinstance(data.get("kid"), str):
            continue
        if data.get("kty") not in ("RSA", "EC") or data.get("use", "sig") != "sig":
            continue
        if _PRIVATE_MEMBERS.intersection(data) or data["kid"] in keys:
            continue  # a published private key is compromised; a repeated kid is ambiguous
        if data["kty"] == "RSA" and _rsa_bits(data) < MIN_RSA_BITS:
            continue  # the same floor as for PEM keys (RFC 7518 §3.3)
        alg = data.get("alg")
        try:
            key = jwk.import_key(data)
        except Exception:  # noqa: BLE001, S112 - one bad key must not hide the others
            continue
        if isinstance(key, RSAKey | ECKey) and isinstance(alg, str | None):
            keys[data["kid"]] = _Jwk(key=key, alg=alg)
    return keys


def _rsa_bits(data: dict[str, Any]) -> int:
    """Modulus size of an RSA JWK, checked before import (joserfc only warns on small keys)."""
    n = data.get("n")
    if not isinstance(n, str):
        return 0
    try:
        return int.from_bytes(urlsafe_b64decode(n.encode("ascii")), "big").bit_length()
    except (ValueError, UnicodeEncodeError):
        return 0
