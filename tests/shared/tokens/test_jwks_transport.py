"""The JWKS fetch's transport against real local servers: a hard deadline on the whole
fetch, addresses checked where the socket connects, and no URL or remote bytes logged."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from shared import JwksFetcher, JwksUnavailable
from shared.errors import JwksBusy
from shared.tokens.jwks_transport import AddressPolicy
from tests.support.faulty_servers import DrippingServer
from tests.support.jwks_server import JwksServer

#: Slack on top of a fetch timeout for a loaded machine.
MARGIN = 1.0
HEADERS = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"keys":[]}'
)


@pytest.fixture
def dripping() -> Iterator[DrippingServer]:
    """A server dripping its status line and headers, one byte every 0.2 s (~15 s in all)."""
    server = DrippingServer(HEADERS, interval=0.2).start()
    try:
        yield server
    finally:
        server.stop()


def test_dripping_status_line_and_headers_end_at_the_deadline(dripping: DrippingServer) -> None:
    """A server dripping its status line and headers is cut at the fetch deadline (1 s),
    not kept for as long as each byte arrives within the per-recv timeout."""
    fetcher = JwksFetcher(timeout=1.0, allow_loopback=True)
    start = time.monotonic()
    with pytest.raises(JwksUnavailable, match="longer than"):
        fetcher.available(dripping.url)
    assert time.monotonic() - start < 1.0 + MARGIN


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1",
        "fd00::1",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - the address refused, not bound
        "::ffff:10.0.0.1",
        "224.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::a00:1",
        "64:ff9b:1::a00:1",
        "2002:a9fe:a9fe::",
        "2002:7f00:1::1",
        "::a00:1",
        "::ffff:0:a00:1",
        "fec0::1",
        "192.0.0.8",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ],
    ids=[
        "loopback",
        "ipv6-loopback",
        "private-10",
        "private-172",
        "private-192",
        "metadata",
        "link-local-v6",
        "ula",
        "shared-cgnat",
        "unspecified",
        "v4-mapped-private",
        "multicast",
        "nat64-metadata",
        "nat64-private",
        "local-nat64",
        "6to4-metadata",
        "6to4-loopback",
        "v4-compatible",
        "siit",
        "site-local",
        "ietf-protocol",
        "teredo",
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    """Loopback, private, link-local (the metadata service), ULA and other non-public
    addresses are refused for customers' JWKS over https."""
    with pytest.raises(JwksUnavailable, match="non-public"):
        AddressPolicy(public_only=True, allow_loopback=False).check(address, tls=True)


def test_public_addresses_are_allowed() -> None:
    """A globally routable address may be connected to over https."""
    AddressPolicy(public_only=True, allow_loopback=False).check("93.184.215.14", tls=True)
    AddressPolicy(public_only=True, allow_loopback=False).check("2606:4700::1", tls=True)


def test_loopback_refused_at_connect_time(jwks_server: JwksServer) -> None:
    """Without the dev setting, a JWKS on loopback is refused before any byte is sent: the
    check is on the address the socket would connect to (a name resolving to loopback, as
    with DNS rebinding, is caught the same way)."""
    fetcher = JwksFetcher(timeout=1.0)
    for url in (jwks_server.url, jwks_server.url.replace("127.0.0.1", "localhost")):
        with pytest.raises(JwksUnavailable, match=r"loopback|non-public"):
            fetcher.available(url)
    assert jwks_server.requests == 0


def test_plain_http_needs_loopback_and_the_setting(jwks_server: JwksServer) -> None:
    """With the dev setting, http to loopback works; to any other address it is refused."""
    policy = AddressPolicy(public_only=True, allow_loopback=True)
    with pytest.raises(JwksUnavailable, match="only allowed to loopback"):
        policy.check("93.184.215.14", tls=False)
    JwksFetcher(timeout=1.0, allow_loopback=True).available(jwks_server.url)
    assert jwks_server.requests == 1


def test_operator_urls_may_be_internal(jwks_server: JwksServer) -> None:
    """The authz JWKS (the operator's URL, ``public_only=False``) may be on any address."""
    JwksFetcher(timeout=1.0, public_only=False).available(jwks_server.url)
    assert jwks_server.requests == 1


def test_urllib3_logs_nothing_of_the_fetch(caplog: pytest.LogCaptureFixture) -> None:
    """Malformed headers make urllib3 warn with the URL and the remote bytes: inside a JWKS
    fetch it says nothing; our own log line names the URL without its query."""
    secret_header = b"X-Remote-Secret-Bytes\r\n"  # no colon: urllib3 fails to parse it
    body = b'{"keys":[]}'
    payload = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + secret_header
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )
    server = DrippingServer(payload).start()
    try:
        caplog.set_level(logging.DEBUG)
        fetcher = JwksFetcher(timeout=1.0, allow_loopback=True)
        fetcher.available(server.url)
        server.payload = b"HTTP/1.1 302 Found\r\nLocation: http://x\r\nContent-Length: 0\r\n\r\n"
        fetcher.available(server.url.replace("key=", "other="))
    except JwksUnavailable:
        pass
    finally:
        server.stop()
    logged = "\n".join(f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "Remote-Secret" not in logged, logged
    assert "s3cret" not in logged, logged
    assert not [r for r in caplog.records if r.name.startswith("urllib3")], logged
    assert "JWKS fetch failed for http://127.0.0.1" in logged, logged


def _timed(fetcher: JwksFetcher, url: str, out: list[tuple[float, str]]) -> None:
    start = time.monotonic()
    try:
        fetcher.available(url)
        out.append((time.monotonic() - start, "ok"))
    except JwksUnavailable as exc:
        out.append((time.monotonic() - start, exc.code))


def test_concurrent_callers_share_one_fetch(dripping: DrippingServer) -> None:
    """Three callers of a dripping endpoint share one fetch: the server sees one
    connection and all three fail within about one deadline (not one after the other)."""
    fetcher = JwksFetcher(timeout=1.0, allow_loopback=True, failure_backoff=0.5)
    results: list[tuple[float, str]] = []
    threads = [
        threading.Thread(target=_timed, args=(fetcher, dripping.url, results)) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [code for _, code in results] == ["JWKS_UNAVAILABLE"] * 3
    assert max(seconds for seconds, _ in results) < 1.0 + MARGIN, results
    assert dripping.connections == 1


def test_failure_is_timed_from_the_end_of_the_fetch(dripping: DrippingServer) -> None:
    """The back-off after a failed fetch starts when the fetch ended: a fetch (1 s) longer
    than the back-off (0.8 s) does not let the next caller refetch at once."""
    fetcher = JwksFetcher(timeout=1.0, allow_loopback=True, failure_backoff=0.8)
    with pytest.raises(JwksUnavailable):
        fetcher.available(dripping.url)
    start = time.monotonic()
    with pytest.raises(JwksUnavailable, match="not retried"):
        fetcher.available(dripping.url)
    assert time.monotonic() - start < 0.1
    assert dripping.connections == 1


def test_callers_beyond_the_cap_are_refused_at_once(dripping: DrippingServer) -> None:
    """At most ``max_blocked_per_uri`` threads wait on one endpoint: the others are refused
    at once with JWKS_BUSY (retryable), not queued behind the fetch."""
    fetcher = JwksFetcher(timeout=1.5, allow_loopback=True, max_blocked_per_uri=2)
    results: list[tuple[float, str]] = []
    threads = [
        threading.Thread(target=_timed, args=(fetcher, dripping.url, results)) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    busy = [seconds for seconds, code in results if code == "JWKS_BUSY"]
    assert len(busy) == 4, results
    assert max(busy) < 0.2, results
    assert JwksBusy("x").retryable is True


def test_the_cap_is_per_endpoint(dripping: DrippingServer, jwks_server: JwksServer) -> None:
    """A slow endpoint at its cap does not refuse callers of another endpoint."""
    fetcher = JwksFetcher(timeout=1.5, allow_loopback=True, max_blocked_per_uri=1)
    results: list[tuple[float, str]] = []
    slow = threading.Thread(target=_timed, args=(fetcher, dripping.url, results))
    slow.start()
    time.sleep(0.2)
    with pytest.raises(JwksBusy):
        fetcher.available(dripping.url)
    fetcher.available(jwks_server.url)
    slow.join()


def test_a_host_that_cannot_be_encoded_is_unavailable() -> None:
    """A host with an empty or over-long label fails like an unreachable endpoint (it was a
    raw UnicodeError, a 500)."""
    fetcher = JwksFetcher(timeout=1.0)
    for url in ("https://a..example.com/jwks.json", f"https://{'a' * 64}.example.com/j"):
        with pytest.raises(JwksUnavailable, match="does not resolve"):
            fetcher.available(url)


def test_a_lookup_that_never_answers_ends_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name server that does not answer cannot hold the fetch past its deadline (the hung
    lookup is injected: no real resolver here can be made to hang)."""
    release = threading.Event()

    def hung(*args: object, **kwargs: object) -> object:
        release.wait(10)
        raise OSError("no answer")

    monkeypatch.setattr("socket.getaddrinfo", hung)
    fetcher = JwksFetcher(timeout=1.0)
    start = time.monotonic()
    try:
        with pytest.raises(JwksUnavailable, match="did not resolve in time"):
            fetcher.available("https://keys.example.com/jwks.json")
        assert time.monotonic() - start < 1.0 + MARGIN
    finally:
        release.set()


def test_full_caps_still_serve_held_keys(dripping: DrippingServer, jwks_server: JwksServer) -> None:
    """With every slot taken by slow endpoints, a tenant whose keys are held but past their
    TTL is served from them instead of refused."""
    now = [1000.0]
    fetcher = JwksFetcher(
        timeout=1.5, allow_loopback=True, max_blocked_total=1, ttl=60, clock=lambda: now[0]
    )
    fetcher.available(jwks_server.url)
    now[0] += 61  # expired, well within stale-if-error
    slow = threading.Thread(target=_timed, args=(fetcher, dripping.url, []))
    slow.start()
    time.sleep(0.2)
    try:
        with pytest.raises(JwksBusy):
            fetcher.available(dripping.url)  # the cap is indeed full
        fetcher.available(jwks_server.url)
    finally:
        slow.join()
