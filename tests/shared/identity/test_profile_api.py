"""ProfileApi against a real local HTTP server: good answers, refusals, and every failure
bounded by the deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.errors import VerificationUnavailable
from shared.identity import ProfileApi, ProfileUnauthorized
from tests.support.openbao import free_port
from tests.support.profile_server import CLAIMS, PROFILE, ProfileServer

DEADLINE = 1.0
ACCESS_TOKEN = "at-123"


@pytest.fixture
def profile_server() -> Iterator[ProfileServer]:
    """A profile API stand-in on loopback."""
    server = ProfileServer().start()
    try:
        yield server
    finally:
        server.stop()


def _fetch(url: str, token: str = ACCESS_TOKEN, **options: Any) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        api = ProfileApi(
            connect_timeout=options.pop("connect_timeout", 0.5),
            read_timeout=options.pop("read_timeout", 0.5),
            deadline=options.pop("deadline", DEADLINE),
            **options,
        )
        try:
            return await api.fetch(url, token)
        finally:
            await api.close()

    return asyncio.run(run())


def test_bare_object_is_the_profile(profile_server: ProfileServer) -> None:
    """A JSON object without data members is returned as the ``profile`` claim."""
    assert _fetch(profile_server.url("/profile")) == {"profile": PROFILE}


def test_object_with_data_members_is_used_as_is(profile_server: ProfileServer) -> None:
    """An answer with ``profile``/``form`` members is taken as the claims themselves."""
    assert _fetch(profile_server.url("/claims")) == CLAIMS


def test_access_token_is_sent_as_bearer(profile_server: ProfileServer) -> None:
    """The access token travels in an ``Authorization: Bearer`` header."""
    _fetch(profile_server.url("/profile"), token="secret-at")
    assert profile_server.authorizations == ["Bearer secret-at"]


@pytest.mark.parametrize("status", [401, 403])
def test_refused_access_token_is_profile_unauthorized(
    profile_server: ProfileServer, status: int
) -> None:
    """A 401 or 403 raises ProfileUnauthorized, which is not retryable."""
    with pytest.raises(ProfileUnauthorized) as info:
        _fetch(profile_server.url(f"/{status}"))
    assert info.value.code == "PROFILE_UNAUTHORIZED"
    assert not isinstance(info.value, VerificationUnavailable)


@pytest.mark.parametrize(
    "path",
    ["/500", "/redirect", "/text", "/array", "/big", "/big-unannounced", "/slow", "/dribble"],
)
def test_other_failures_are_unavailable_within_the_deadline(
    profile_server: ProfileServer, path: str
) -> None:
    """Any other failure raises VerificationUnavailable (UNKNOWN, retryable) before the
    deadline is long past."""
    started = time.monotonic()
    with pytest.raises(VerificationUnavailable) as info:
        _fetch(profile_server.url(path))
    elapsed = time.monotonic() - started
    assert info.value.code == "UNKNOWN"
    assert info.value.retryable is True
    assert elapsed < 2.0


def test_redirect_is_not_followed(profile_server: ProfileServer) -> None:
    """A 302 is refused without a request to its Location (the token stays put)."""
    with pytest.raises(VerificationUnavailable):
        _fetch(profile_server.url("/redirect"))
    assert len(profile_server.authorizations) == 1


def test_down_server_is_unavailable_quickly() -> None:
    """A closed port raises VerificationUnavailable within the deadline."""
    started = time.monotonic()
    with pytest.raises(VerificationUnavailable) as info:
        _fetch(f"http://127.0.0.1:{free_port()}/profile")
    assert info.value.code == "UNKNOWN"
    assert time.monotonic() - started < 2.0


def test_dribbling_server_is_cut_by_the_deadline_not_read_timeouts(
    profile_server: ProfileServer,
) -> None:
    """A server sending a byte every 0.2 s passes a 1 s read timeout but not the overall
    deadline."""
    started = time.monotonic()
    with pytest.raises(VerificationUnavailable):
        _fetch(profile_server.url("/dribble"), read_timeout=1.0, deadline=0.8)
    assert time.monotonic() - started < 1.8


def test_answer_within_max_bytes_is_read(profile_server: ProfileServer) -> None:
    """An answer within ``max_bytes`` is accepted; the same answer over a smaller cap is refused."""
    assert _fetch(profile_server.url("/profile"), max_bytes=1000) == {"profile": PROFILE}
    with pytest.raises(VerificationUnavailable):
        _fetch(profile_server.url("/profile"), max_bytes=10)
