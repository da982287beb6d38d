"""Fetching customers' JWKS endpoints: the only module that makes HTTP calls to customers.

Defences, because the URL is the customer's and its server may misbehave:

- a connect/read timeout *and* an overall deadline (a server that drips one byte a second
  cannot hold a verifier hostage);
- a response size cap, no redirects, JSON only;
- a TTL cache with stale-if-error, and at most one refresh per ``min_refresh_interval`` per
  URL when a token names an unknown ``kid`` (a flood of made-up kids cannot hammer the
  endpoint);
- only public RSA/EC signature keys are kept; a key with private parts is skipped.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
import requests
import urllib3.exceptions
from joserfc import jwk
from joserfc.jwk import ECKey, RSAKey

from shared.algorithms import EC_CURVE_FOR_ALG
from shared.errors import JwksUnavailable

__all__ = ["JwksFetcher"]

_KTY_FOR_PREFIX: Final = {"RS": "RSA", "ES": "EC"}
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})


class _Entry(msgspec.Struct):
    keys: dict[str, RSAKey | ECKey]
    fetched_at: float
    attempted_at: float


def _usable(key: RSAKey | ECKey, data: dict[str, Any], alg: str) -> bool:
    if data.get("alg") not in (None, alg):
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
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.stale_if_error = stale_if_error
        self.min_refresh_interval = min_refresh_interval
        self._clock = clock
        self._session = session or requests.Session()
        self._entries: dict[str, _Entry] = {}
        self._raw: dict[str, dict[str, dict[str, Any]]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def key(self, uri: str, kid: str, alg: str) -> RSAKey | ECKey | None:
        """The key ``kid`` from ``uri``'s JWKS if it can verify ``alg``; None if unknown.

        Raises:
            JwksUnavailable: the endpoint failed and nothing usable is cached.
        """
        entry = self._current(uri)
        if (
            kid not in entry.keys
            and self._clock() - entry.attempted_at >= self.min_refresh_interval
        ):
            entry = self._refresh(uri, force=True)
        key = entry.keys.get(kid)
        if key is None or not _usable(key, self._raw.get(uri, {}).get(kid, {}), alg):
            return None
        return key

    def _current(self, uri: str) -> _Entry:
        entry = self._entries.get(uri)
        if entry is not None and self._clock() - entry.fetched_at < self.ttl:
            return entry
        return self._refresh(uri, force=False)

    def _refresh(self, uri: str, *, force: bool) -> _Entry:
        with self._guard:
            lock = self._locks.setdefault(uri, threading.Lock())
        with lock:
            now = self._clock()
            entry = self._entries.get(uri)
            if entry is not None:
                recently = now - entry.attempted_at < self.min_refresh_interval
                if force and recently:
                    return entry  # unknown kids: at most one refetch per interval
                if not force and now - entry.fetched_at < self.ttl:
                    return entry  # someone else refreshed while we waited
                failed_recently = recently and entry.attempted_at > entry.fetched_at
                if failed_recently and now - entry.fetched_at < self.ttl + self.stale_if_error:
                    return entry  # a refresh just failed: back off, serve stale
                entry.attempted_at = now
            try:
                keys, raw = self._fetch(uri)
            except JwksUnavailable:
                if entry is not None and now - entry.fetched_at < self.ttl + self.stale_if_error:
                    return entry
                raise
            fresh = _Entry(keys=keys, fetched_at=now, attempted_at=now)
            self._entries[uri] = fresh
            self._raw[uri] = raw
            return fresh

    def _fetch(self, uri: str) -> tuple[dict[str, RSAKey | ECKey], dict[str, dict[str, Any]]]:
        deadline = time.monotonic() + self.timeout
        try:
            with self._session.get(
                uri,
                timeout=(self.timeout, self.timeout),
                stream=True,
                allow_redirects=False,
                headers={"Accept": "application/jwk-set+json, application/json"},
            ) as response:
                if response.status_code != 200:
                    raise JwksUnavailable(f"JWKS endpoint answered HTTP {response.status_code}")
                body = bytearray()
                # read1 returns whatever has arrived: iter_content(n) would wait for n bytes,
                # so a server dripping a byte at a time would never reach the deadline check.
                while chunk := response.raw.read1(8192, decode_content=True):
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise JwksUnavailable(f"JWKS is larger than {self.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise JwksUnavailable(f"JWKS endpoint took longer than {self.timeout} s")
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise JwksUnavailable(f"JWKS endpoint unreachable: {type(exc).__name__}") from exc
        return _parse(bytes(body))


def _parse(body: bytes) -> tuple[dict[str, RSAKey | ECKey], dict[str, dict[str, Any]]]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise JwksUnavailable("JWKS is not JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksUnavailable("JWKS has no 'keys' array")
    keys: dict[str, RSAKey | ECKey] = {}
    raw: dict[str, dict[str, Any]] = {}
    for data in document["keys"]:
        if not isinstance(data, dict) or not isinstance(data.get("kid"), str):
            continue
        if data.get("kty") not in ("RSA", "EC") or data.get("use", "sig") != "sig":
            continue
        if _PRIVATE_MEMBERS.intersection(data) or data["kid"] in keys:
            continue  # a published private key is compromised; a repeated kid is ambiguous
        try:
            key = jwk.import_key(data)
        except Exception:  # noqa: BLE001, S112 - one bad key must not hide the others
            continue
        if isinstance(key, RSAKey | ECKey):
            keys[data["kid"]] = key
            raw[data["kid"]] = data
    return keys, raw
