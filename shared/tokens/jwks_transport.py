"""The HTTP transport of :mod:`shared.tokens.jwks`: where a JWKS fetch may connect, how long.

- **A hard wall-clock deadline on the whole fetch** (connect, status line, headers, body):
  ``requests``' timeout applies per ``recv``, so a server dripping one byte at a time kept a
  fetch going for a minute. Each socket a fetch opens is registered with its :class:`Deadline`,
  whose timer shuts the socket down when time is up; the blocked ``recv`` then returns.
- **Addresses checked at connect time**, on the very addresses connected to: the host is
  resolved once, every address is checked, and the socket connects to a checked address
  (TLS still verifies the certificate and sends SNI for the URL's host name; the ``Host``
  header is the URL's). DNS rebinding cannot slip an internal address in between.
- **urllib3 stays quiet** during a fetch: its debug lines and header-parsing warnings carry
  the URL (with its query) and bytes the remote sent.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Final

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from shared.errors import JwksUnavailable

__all__ = ["AddressPolicy", "Deadline", "guarded_adapter", "quiet_urllib3"]

_URLLIB3_LOGGERS: Final = ("urllib3.connectionpool", "urllib3.connection", "urllib3.response")
_local = threading.local()
#: Lookups run here so that a fetch can stop waiting for one; a lookup left behind ends
#: with the resolver's own timeout. Bounded: past 8 stuck lookups, new ones queue and time
#: out at their fetch's deadline.
_RESOLVER: Final = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="jwks-dns")
#: IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64 RFC 6052,
#: IPv4-compatible, IPv4-mapped, SIIT): checked as that IPv4 address, since a NAT64 or
#: 6to4 gateway would take the connection there.
_EMBEDDING_V4: Final = tuple(
    ipaddress.ip_network(n) for n in ("64:ff9b::/96", "::/96", "::ffff:0:0/96", "::ffff:0:0:0/96")
)
#: Refused whatever ``is_global`` says (its tables differ between Python versions): local
#: NAT64 (RFC 8215), 6to4 and Teredo (they tunnel to IPv4 hosts), deprecated site-local,
#: IETF protocol assignments, documentation, benchmarking and reserved ranges.
_REFUSED: Final = tuple(
    ipaddress.ip_network(n)
    for n in (
        "64:ff9b:1::/48",
        "2002::/16",
        "2001::/32",
        "fec0::/10",
        "100::/64",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "100.64.0.0/10",
        "240.0.0.0/4",
        "0.0.0.0/8",
    )
)


class AddressPolicy:
    """Which resolved addresses a fetch may connect to.

    Args:
        public_only: only globally routable addresses (no loopback, private, link-local
            such as the 169.254.169.254 metadata service, IPv6 ULA, shared, reserved or
            multicast). False for URLs the operator configured (the authz JWKS).
        allow_loopback: loopback too (local development and tests), and only loopback for
            plain http.
    """

    def __init__(self, *, public_only: bool, allow_loopback: bool) -> None:
        self.public_only = public_only
        self.allow_loopback = allow_loopback

    def check(self, address: str, *, tls: bool) -> None:
        """Raise :class:`JwksUnavailable` unless ``address`` may be connected to."""
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and any(ip in n for n in _EMBEDDING_V4):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            if not ip.is_loopback:  # ::1 is in ::/96 but is loopback itself
                ip = embedded  # ::ffff:10.0.0.1 and 64:ff9b::a00:1 are 10.0.0.1
        if not self.public_only:
            return
        if ip.is_loopback and self.allow_loopback:
            return
        if not tls:
            raise JwksUnavailable(f"plain http is only allowed to loopback, not {ip}")
        if not ip.is_global or ip.is_multicast or any(ip in n for n in _REFUSED):
            raise JwksUnavailable(f"the JWKS host resolves to a non-public address ({ip})")


class Deadline:
    """The wall-clock end of one fetch: sockets opened under it are shut down at ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def remaining(self) -> float:
        """Seconds left (0 once past)."""
        return max(0.0, self._ends - time.monotonic())

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    @contextlib.contextmanager
    def running(self) -> Iterator[Deadline]:
        """Arm the timer for the current thread's fetch; disarm it on the way out."""
        _local.deadline = self
        self._timer.start()
        try:
            yield self
        finally:
            self._timer.cancel()
            _local.deadline = None


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, even for an SSLSocket: no TLS close_notify exchange with
    # a server that is not answering, just wake up whoever is blocked in recv.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _resolve(host: str, port: int, deadline: Deadline | None) -> list[Any]:
    """``getaddrinfo`` within the fetch's deadline: a name server that never answers would
    otherwise hold the fetch for the resolver's own timeouts (often 10-30 s), and the
    deadline's timer can only shut sockets, not a lookup."""
    try:
        future = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        return list(future.result(timeout=deadline.remaining() if deadline else None))
    except concurrent.futures.TimeoutError:
        raise JwksUnavailable("the JWKS host did not resolve in time") from None
    except (OSError, UnicodeError, ValueError) as exc:
        # UnicodeError: an empty or over-long label (``a..example.com``) fails IDNA encoding.
        raise JwksUnavailable(f"the JWKS host does not resolve: {type(exc).__name__}") from exc


def _connect(conn: HTTPConnection, policy: AddressPolicy, *, tls: bool) -> socket.socket:
    deadline: Deadline | None = getattr(_local, "deadline", None)
    infos = _resolve(conn._dns_host, conn.port, deadline)
    for info in infos:  # every one: a mix of public and internal addresses is refused
        policy.check(str(info[4][0]), tls=tls)
    error: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        if deadline is not None:
            deadline.add(sock)
        try:
            sock.settimeout(conn.timeout if isinstance(conn.timeout, int | float) else None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(address)  # the checked address itself, not a second lookup
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise JwksUnavailable(f"the JWKS host refused the connection: {type(error).__name__}")


def _watch(conn: HTTPConnection) -> None:
    """A pooled connection reused by a later fetch answers to that fetch's deadline."""
    deadline: Deadline | None = getattr(_local, "deadline", None)
    if deadline is not None and conn.sock is not None:
        deadline.add(conn.sock)


class _HTTPConnection(HTTPConnection):
    policy: AddressPolicy

    def _new_conn(self) -> socket.socket:
        return _connect(self, self.policy, tls=False)

    def getresponse(self) -> Any:
        _watch(self)
        return super().getresponse()


class _HTTPSConnection(HTTPSConnection):
    policy: AddressPolicy

    def _new_conn(self) -> socket.socket:
        return _connect(self, self.policy, tls=True)

    def getresponse(self) -> Any:
        _watch(self)
        return super().getresponse()


class _Adapter(HTTPAdapter):
    def __init__(self, policy: AddressPolicy) -> None:
        self._pools = {
            "http": type(
                "HTTPPool",
                (HTTPConnectionPool,),
                {"ConnectionCls": type("Conn", (_HTTPConnection,), {"policy": policy})},
            ),
            "https": type(
                "HTTPSPool",
                (HTTPSConnectionPool,),
                {"ConnectionCls": type("Conn", (_HTTPSConnection,), {"policy": policy})},
            ),
        }
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools


def guarded_adapter(policy: AddressPolicy) -> HTTPAdapter:
    """A requests adapter whose connections obey ``policy`` and the running :class:`Deadline`."""
    return _Adapter(policy)


class _InFetch(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(_local, "deadline", None) is None


_FILTER: Final = _InFetch()


def quiet_urllib3() -> None:
    """Drop urllib3's log records emitted inside a JWKS fetch (idempotent)."""
    for name in _URLLIB3_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
