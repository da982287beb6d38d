"""JWKS accounts against a real local HTTP endpoint: key choice by kid, refresh limits,
rotation, misbehaving endpoints and the stale cache."""

from __future__ import annotations

import json
import logging
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from joserfc.errors import SecurityWarning

from shared import (
    Account,
    JwksFetcher,
    JwksRefused,
    TokenInvalidSignature,
    Vault,
    VerificationUnavailable,
    VerifiedToken,
    Verifier,
)
from tests.support.faulty_servers import DrippingServer
from tests.support.jwks_server import JwksServer
from tests.support.tokens import claims, private_key, sign

#: Slack on top of a fetch timeout for a loaded machine.
MARGIN = 1.0


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def public_jwk(stem: str, kid: str, **members: Any) -> dict[str, Any]:
    """The public JWK of ``tests/keys/<stem>-private.pem`` with ``kid`` (and extra members)."""
    return {**private_key(stem).as_dict(private=False), "kid": kid, **members}


class Setup:
    """A JWKS account on the local server, a fetcher with a hand-moved clock, a verifier."""

    def __init__(
        self, vault: Vault, server: JwksServer, account: Account, fetcher: JwksFetcher, clock: Clock
    ) -> None:
        self.server = server
        self.account = account
        self.fetcher = fetcher
        self.clock = clock
        self.verifier = Verifier(vault, jwks=fetcher)

    def verify(self, token: str) -> VerifiedToken:
        return self.verifier.verify(token, account_id=self.account.id, campaign_id="1001")

    def refused(self, token: str) -> TokenInvalidSignature:
        with pytest.raises(TokenInvalidSignature) as caught:
            self.verify(token)
        assert caught.value.code == "TOKEN_INVALID_SIGNATURE"
        return caught.value

    def unavailable(self, token: str) -> float:
        """Expect UNKNOWN (retryable); return the seconds it took."""
        start = time.monotonic()
        with pytest.raises(VerificationUnavailable) as caught:
            self.verify(token)
        assert caught.value.code == "UNKNOWN"
        assert caught.value.retryable is True
        return time.monotonic() - start


@pytest.fixture
def make_setup(
    vault: Vault, jwks_server: JwksServer, make_account: Callable[..., Account]
) -> Callable[..., Setup]:
    """Build a :class:`Setup`; keywords go to :class:`JwksFetcher`."""

    def make(
        algorithms: tuple[str, ...] = ("RS256", "ES256"), uri: str | None = None, **options: Any
    ) -> Setup:
        clock = Clock()
        settings: dict[str, Any] = {
            "timeout": 2.0,
            "min_refresh_interval": 60.0,
            "ttl": 300.0,
            "allow_loopback": True,
        }
        fetcher = JwksFetcher(clock=clock, **{**settings, **options})
        account = make_account("jwks", algorithms=algorithms, jwks_uri=uri or jwks_server.url)
        return Setup(vault, jwks_server, account, fetcher, clock)

    return make


@pytest.fixture
def setup(make_setup: Callable[..., Setup], jwks_server: JwksServer) -> Setup:
    """An account with RS256 (kid ``rsa-1``) and ES256 (kid ``ec-1``) keys published."""
    jwks_server.document = {
        "keys": [public_jwk("rsa-2048", "rsa-1"), public_jwk("ec-p256", "ec-1")]
    }
    return make_setup()


# -- keys chosen by kid -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alg", "stem", "kid"),
    [("RS256", "rsa-2048", "rsa-1"), ("ES256", "ec-p256", "ec-1")],
    ids=["rs256", "es256"],
)
def test_token_with_published_kid_verifies(setup: Setup, alg: str, stem: str, kid: str) -> None:
    """A token whose kid names a published key of its algorithm verifies; the JWKS is cached."""
    token = sign(claims(), alg, stem, kid=kid)
    assert setup.verify(token).algorithm == alg
    assert setup.verify(token).subject == "participant-42"
    assert setup.server.requests == 1


def test_token_without_kid_is_refused(setup: Setup) -> None:
    """A JWKS account needs a kid; without one the token is refused without any fetch."""
    setup.refused(sign(claims(), "RS256", "rsa-2048"))
    assert setup.server.requests == 0


def test_kid_of_another_key_type_is_refused(setup: Setup) -> None:
    """A kid naming the EC key cannot verify an RS256 token (the kid never picks the family)."""
    setup.refused(sign(claims(), "RS256", "rsa-2048", kid="ec-1"))


def test_right_kid_wrong_signer_is_refused(setup: Setup) -> None:
    """A token signed by another key but naming a published kid fails its signature check."""
    detail = setup.refused(sign(claims(), "RS256", "rsa-2048-other", kid="rsa-1")).detail
    assert "does not verify" in detail


# -- unknown kids and refresh limits ----------------------------------------------------------


def test_unknown_kid_refetches_at_most_once_per_interval(setup: Setup) -> None:
    """A flood of made-up kids is refused and costs at most one fetch per refresh interval."""
    setup.verify(sign(claims(), "RS256", "rsa-2048", kid="rsa-1"))
    assert setup.server.requests == 1

    bad = [sign(claims(), "RS256", "rsa-2048-other", kid=f"made-up-{n}") for n in range(20)]
    for token in bad:  # within the interval of the first fetch: no refetch at all
        setup.refused(token)
    assert setup.server.requests == 1

    setup.clock.advance(61)
    for token in bad:
        setup.refused(token)
    assert setup.server.requests == 2

    setup.clock.advance(30)
    for token in bad:
        setup.refused(token)
    assert setup.server.requests == 2

    setup.clock.advance(31)
    setup.refused(bad[0])
    assert setup.server.requests == 3


def test_rotation_at_the_endpoint_is_picked_up(setup: Setup, jwks_server: JwksServer) -> None:
    """A new kid published at the endpoint verifies after one refresh; the removed kid no longer."""
    setup.verify(sign(claims(), "RS256", "rsa-2048", kid="rsa-1"))
    jwks_server.document = {"keys": [public_jwk("rsa-2048-other", "rsa-2")]}
    new_token = sign(claims(), "RS256", "rsa-2048-other", kid="rsa-2")

    setup.clock.advance(61)
    assert setup.verify(new_token).algorithm == "RS256"
    assert jwks_server.requests == 2
    setup.refused(sign(claims(), "RS256", "rsa-2048", kid="rsa-1"))
    assert setup.verify(new_token).subject == "participant-42"
    assert jwks_server.requests == 2


def test_expired_cache_is_refreshed(setup: Setup, jwks_server: JwksServer) -> None:
    """Past its TTL the JWKS is fetched again even for a known kid."""
    token = sign(claims(), "ES256", "ec-p256", kid="ec-1")
    setup.verify(token)
    setup.clock.advance(301)
    setup.verify(token)
    assert jwks_server.requests == 2


# -- misbehaving endpoints, nothing cached ----------------------------------------------------


def _oversized(limit: int) -> bytes:
    """A valid JWKS padded past ``limit`` bytes: refused for its size, not its content."""
    document = {"keys": [public_jwk("rsa-2048", "rsa-1")], "padding": "x" * limit}
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, None),
        (200, b"<html>not json</html>"),
        (200, b"[]"),
        (200, b'{"keys": {}}'),
        (200, b"{" * 100_000),
        (200, _oversized(4096)),
    ],
    ids=["500", "html", "array", "keys-not-list", "deep-nesting", "oversized"],
)
def test_failing_endpoint_without_cache_is_unknown(
    make_setup: Callable[..., Setup],
    jwks_server: JwksServer,
    status: int,
    body: bytes | None,
) -> None:
    """An endpoint that errors or returns no usable JWKS, with nothing cached, gives UNKNOWN."""
    jwks_server.document = {"keys": [public_jwk("rsa-2048", "rsa-1")]}
    jwks_server.status, jwks_server.body = status, body
    setup = make_setup(max_bytes=4096)
    elapsed = setup.unavailable(sign(claims(), "RS256", "rsa-2048", kid="rsa-1"))
    assert elapsed < 2.0 + MARGIN


@pytest.mark.parametrize("status", [404, 410, 401, 403, 400, 302], ids=str)
def test_refusing_endpoint_is_jwks_refused_not_an_outage(
    make_setup: Callable[..., Setup], jwks_server: JwksServer, status: int
) -> None:
    """An endpoint answering a status no retry fixes (4xx, a redirect) is JWKS_REFUSED,
    not retryable, naming the status; within the back-off it stays so, without a refetch."""
    jwks_server.status = status
    setup = make_setup()
    token = sign(claims(), "RS256", "rsa-2048", kid="rsa-1")
    for _ in range(2):
        with pytest.raises(JwksRefused) as caught:
            setup.verify(token)
        assert (caught.value.code, caught.value.retryable) == ("JWKS_REFUSED", False)
        assert f"the account's JWKS endpoint answered HTTP {status}:" in caught.value.detail
    assert jwks_server.requests == 1


@pytest.mark.parametrize("status", [500, 503, 429, 408], ids=str)
def test_failing_status_is_named_and_retryable(
    make_setup: Callable[..., Setup], jwks_server: JwksServer, status: int
) -> None:
    """A 5xx (or 408/429: "later") stays UNKNOWN and retryable, and names the status."""
    jwks_server.status = status
    setup = make_setup()
    token = sign(claims(), "RS256", "rsa-2048", kid="rsa-1")
    for _ in range(2):  # the fetch, then the back-off
        with pytest.raises(VerificationUnavailable) as caught:
            setup.verify(token)
        assert caught.value.retryable is True
        assert caught.value.detail == (
            f"the account's JWKS endpoint answered HTTP {status}; retry later"
        )


def test_failed_fetch_is_logged_with_account_and_status(
    make_setup: Callable[..., Setup], jwks_server: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed fetch logs one warning naming the account, the dependency and the status,
    with the URL minus its query; never the token."""
    jwks_server.status = 404
    setup = make_setup(uri=f"{jwks_server.url}?api_key=s3cret")
    token = sign(claims(), "RS256", "rsa-2048", kid="rsa-1")
    caplog.set_level(logging.WARNING, logger="shared.jwks")
    with pytest.raises(JwksRefused):
        setup.verify(token)
    [record] = [r for r in caplog.records if r.name == "shared.jwks"]
    assert record.levelno == logging.WARNING
    fields = (record.__dict__["account_id"], record.__dict__["dependency"])
    assert (*fields, record.__dict__["status"]) == (setup.account.id, "jwks", 404)
    message = record.getMessage()
    assert setup.account.id in message
    assert "answered HTTP 404" in message
    assert "s3cret" not in message
    assert token not in message
    assert token.split(".")[2] not in message


def test_hanging_endpoint_is_unknown_within_the_timeout(
    make_setup: Callable[..., Setup], jwks_server: JwksServer
) -> None:
    """An endpoint that answers later than the timeout gives UNKNOWN once the timeout passes."""
    jwks_server.document = {"keys": [public_jwk("rsa-2048", "rsa-1")]}
    jwks_server.delay = 1.5
    setup = make_setup(timeout=0.5)
    elapsed = setup.unavailable(sign(claims(), "RS256", "rsa-2048", kid="rsa-1"))
    assert 0.45 <= elapsed < 0.5 + MARGIN


#: The status line and headers of the dripping endpoint, sent at once.
DRIP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n"


@pytest.fixture
def drip_server() -> Iterator[DrippingServer]:
    """A loopback endpoint that sends its headers and then one body byte every 50 ms (60 bytes
    take 3 s: a reader waiting for whole chunks would notice far too late)."""
    server = DrippingServer(b" " * 60, interval=0.05, head=DRIP_HEAD).start()
    try:
        yield server
    finally:
        server.stop()


def test_dripping_endpoint_cannot_hold_verification(
    make_setup: Callable[..., Setup], drip_server: DrippingServer
) -> None:
    """A body trickling in byte by byte is cut at the overall deadline, not per-read timeouts."""
    setup = make_setup(uri=drip_server.url, timeout=0.5)
    elapsed = setup.unavailable(sign(claims(), "RS256", "rsa-2048", kid="rsa-1"))
    assert elapsed < 0.5 + MARGIN


def test_unreachable_endpoint_is_unknown(make_setup: Callable[..., Setup]) -> None:
    """Nothing listening at the JWKS URI gives UNKNOWN, promptly."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    setup = make_setup(uri=f"http://127.0.0.1:{port}/jwks.json")
    assert setup.unavailable(sign(claims(), "RS256", "rsa-2048", kid="rsa-1")) < 2.0 + MARGIN


# -- stale cache --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, None), (200, b"garbage")],
    ids=["500", "garbage"],
)
def test_stale_cache_is_served_while_the_endpoint_fails(
    make_setup: Callable[..., Setup],
    jwks_server: JwksServer,
    status: int,
    body: bytes | None,
) -> None:
    """Past its TTL, a cached JWKS keeps verifying while the endpoint fails, until the stale
    window ends; then the answer is UNKNOWN."""
    jwks_server.document = {"keys": [public_jwk("rsa-2048", "rsa-1")]}
    setup = make_setup(ttl=10.0, stale_if_error=100.0)
    token = sign(claims(), "RS256", "rsa-2048", kid="rsa-1")
    setup.verify(token)

    jwks_server.status, jwks_server.body = status, body
    setup.clock.advance(50)
    assert setup.verify(token).subject == "participant-42"
    assert jwks_server.requests == 2  # it did try
    setup.refused(sign(claims(), "RS256", "rsa-2048-other", kid="unknown"))

    setup.clock.advance(61)  # 111 s after the fetch: beyond TTL + stale window
    setup.unavailable(token)


# -- keys the fetcher must not use --------------------------------------------------------------


@pytest.mark.parametrize(
    ("published", "alg", "stem"),
    [
        ({**private_key("rsa-2048").as_dict(private=True), "kid": "k"}, "RS256", "rsa-2048"),
        ({**private_key("ec-p256").as_dict(private=True), "kid": "k"}, "ES256", "ec-p256"),
        (public_jwk("rsa-2048", "k", alg="RS512"), "RS256", "rsa-2048"),
        (public_jwk("rsa-2048", "k", alg="ES256"), "RS256", "rsa-2048"),
        (public_jwk("ec-p256", "k", alg="ES384"), "ES256", "ec-p256"),
        (public_jwk("rsa-2048", "k", use="enc"), "RS256", "rsa-2048"),
        ({"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ", "kid": "k"},
         "RS256", "rsa-2048"),
    ],
    ids=["rsa-private", "ec-private", "alg-rs512", "alg-es256-on-rsa", "alg-es384-on-p256",
         "use-enc", "oct"],
)  # fmt: skip
def test_unusable_published_key_is_ignored(
    make_setup: Callable[..., Setup],
    jwks_server: JwksServer,
    published: dict[str, Any],
    alg: str,
    stem: str,
) -> None:
    """Private, mismatched-alg, encryption-use or symmetric JWKs are never used to verify; the
    good keys beside them still work."""
    jwks_server.document = {"keys": [published, public_jwk("ec-p256", "good")]}
    setup = make_setup(algorithms=("RS256", "RS512", "ES256"))
    setup.refused(sign(claims(), alg, stem, kid="k"))
    assert setup.verify(sign(claims(), "ES256", "ec-p256", kid="good")).algorithm == "ES256"


def test_jwk_alg_pins_the_algorithm(
    make_setup: Callable[..., Setup], jwks_server: JwksServer
) -> None:
    """A JWK declaring ``alg: RS512`` verifies RS512 tokens but not RS256 ones."""
    jwks_server.document = {"keys": [public_jwk("rsa-2048", "k", alg="RS512")]}
    setup = make_setup(algorithms=("RS256", "RS512"))
    assert setup.verify(sign(claims(), "RS512", "rsa-2048", kid="k")).algorithm == "RS512"
    setup.refused(sign(claims(), "RS256", "rsa-2048", kid="k"))


def test_repeated_kid_is_ambiguous_and_ignored(
    make_setup: Callable[..., Setup], jwks_server: JwksServer
) -> None:
    """When two published keys share a kid, the first is used and the second never verifies."""
    jwks_server.document = {
        "keys": [public_jwk("rsa-2048", "k"), public_jwk("rsa-2048-other", "k")]
    }
    setup = make_setup()
    assert setup.verify(sign(claims(), "RS256", "rsa-2048", kid="k")).algorithm == "RS256"
    setup.refused(sign(claims(), "RS256", "rsa-2048-other", kid="k"))


def test_algorithm_not_pinned_by_the_account(setup: Setup) -> None:
    """A published key does not widen the account's allow-list: RS384 stays refused."""
    setup.refused(sign(claims(), "RS384", "rsa-2048", kid="rsa-1"))
    assert setup.server.requests == 0


def test_failed_refresh_backs_off(
    make_setup: Callable[..., Setup], jwks_server: JwksServer
) -> None:
    """After a failed refresh, calls within min_refresh_interval serve the stale keys without
    asking the endpoint again (an outage does not make every token wait a timeout)."""
    jwks_server.document = {"keys": [public_jwk("rsa-2048", "rsa-1")]}
    setup = make_setup(ttl=10.0, stale_if_error=100.0)
    token = sign(claims(), "RS256", "rsa-2048", kid="rsa-1")
    setup.verify(token)
    jwks_server.status = 500
    setup.clock.advance(20)
    for _ in range(5):
        assert setup.verify(token).subject == "participant-42"
    assert jwks_server.requests == 2
    setup.clock.advance(61)
    assert setup.verify(token).subject == "participant-42"
    assert jwks_server.requests == 3


def test_small_rsa_key_in_jwks_is_not_used(
    make_setup: Callable[..., Setup], jwks_server: JwksServer
) -> None:
    """An RSA key under 2048 bits published in the JWKS is ignored, as it is for PEM keys."""
    with pytest.warns(SecurityWarning):  # joserfc itself only warns about such keys
        published = public_jwk("rsa-1024", "weak")
    jwks_server.document = {"keys": [published]}
    with pytest.warns(SecurityWarning):
        token = sign(claims(), "RS256", "rsa-1024", kid="weak")
    setup = make_setup()
    # As in production, where joserfc's warning is not an error: the floor must be ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        setup.refused(token)


def test_endpoint_down_with_nothing_cached_is_not_hammered(
    make_setup: Callable[..., Setup], jwks_server: JwksServer
) -> None:
    """With no cached JWKS and a failing endpoint, tokens within failure_backoff get UNKNOWN
    at once without another request; after it, the endpoint is asked again."""
    jwks_server.status = 500
    setup = make_setup(failure_backoff=5.0)
    token = sign(claims(), "RS256", "rsa-2048", kid="rsa-1")
    for _ in range(10):
        setup.unavailable(token)
    assert jwks_server.requests == 1
    setup.clock.advance(6)
    jwks_server.status = 200
    jwks_server.document = {"keys": [public_jwk("rsa-2048", "rsa-1")]}
    assert setup.verify(token).subject == "participant-42"
    assert jwks_server.requests == 2


def test_jwks_refreshed_in_background(
    make_setup: Callable[..., Setup], jwks_server: JwksServer
) -> None:
    """Past 3/4 of its TTL a JWKS in use is refetched off the request path: a key the
    customer adds meanwhile verifies without any request waiting on the endpoint."""
    jwks_server.document = {"keys": [public_jwk("rsa-2048", "rsa-1")]}
    setup = make_setup(ttl=100.0, min_refresh_interval=30.0)
    setup.verify(sign(claims(), "RS256", "rsa-2048", kid="rsa-1"))
    jwks_server.document = {
        "keys": [public_jwk("rsa-2048", "rsa-1"), public_jwk("ec-p256", "ec-2")]
    }
    setup.clock.advance(80)  # still fresh, but past 3/4 of the TTL
    jwks_server.delay = 0.3  # a background fetch must not slow this request
    start = time.monotonic()
    setup.verify(sign(claims(), "RS256", "rsa-2048", kid="rsa-1"))
    assert time.monotonic() - start < 0.25
    deadline = time.monotonic() + 5
    while (
        jwks_server.requests < 2
        or setup.fetcher._entries[jwks_server.url].fetched_at != setup.clock.now
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert setup.verify(sign(claims(), "ES256", "ec-p256", kid="ec-2")).subject == "participant-42"
    assert jwks_server.requests == 2
