"""GuardedTransport: the HTTP stack's stray errors become httpx errors, so the profile API,
the IdP and the webhook receiver failing that way is "cannot be reached", never a 500.

The fault (httpcore on anyio raising AttributeError for a connection reset before its first
look at it) happens only in a race under load (tests/faults/test_player_profile.py met it);
here an inner transport raises it on purpose."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from shared.errors import VerificationUnavailable
from shared.identity import ProfileApi
from shared.identity.guarded_transport import GuardedTransport
from shared.identity.sso import IdpHttp
from shared.identity.webhooks import Deliverer


class _Raising(httpx.AsyncBaseTransport):
    """What httpcore did: an AttributeError out of a request."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise AttributeError("'NoneType' object has no attribute 'getpeername'")


class _Answering(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"email": "ada@example.com"})


class _Refusing(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)


def _get(transport: httpx.AsyncBaseTransport) -> httpx.Response:
    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=GuardedTransport(transport)) as client:
            return await client.get("http://127.0.0.1:1/profile")

    return asyncio.run(run())


def test_a_stray_error_is_a_transport_error() -> None:
    """An AttributeError of the stack is raised as httpx.TransportError, from it."""
    with pytest.raises(httpx.TransportError, match="AttributeError") as raised:
        _get(_Raising())
    assert isinstance(raised.value.__cause__, AttributeError)


def test_answers_and_httpx_errors_pass_through() -> None:
    """An answer is the inner transport's; an httpx error stays the same error."""
    assert _get(_Answering()).json() == {"email": "ada@example.com"}
    with pytest.raises(httpx.ConnectError, match="refused"):
        _get(_Refusing())


def test_the_profile_api_says_unknown() -> None:
    """ProfileApi over a stack raising AttributeError: UNKNOWN (503 + Retry-After in the
    player), not an unexpected error."""

    async def run() -> Any:
        api = ProfileApi(transport=_Raising())
        try:
            return await api.fetch("http://127.0.0.1:1/profile", "at-1")
        finally:
            await api.close()

    with pytest.raises(VerificationUnavailable):
        asyncio.run(run())


def _transports(client: httpx.AsyncClient) -> list[object]:
    """The chain of transports under ``client`` (each wrapper's ``_inner``)."""
    chain: list[object] = []
    transport: object = client._transport
    while transport is not None:
        chain.append(transport)
        transport = getattr(transport, "_inner", None)
    return chain


def test_every_client_to_customers_is_guarded() -> None:
    """The profile API's, the IdP's (Authlib's too) and the webhook deliverer's clients all
    send through a GuardedTransport."""

    async def run() -> list[list[object]]:
        profiles, idp = ProfileApi(), IdpHttp()
        deliverer = Deliverer(
            outbox=None,  # type: ignore[arg-type]  # not used: only its client is looked at
            target=None,  # type: ignore[arg-type]
            retry_base=1.0,
            park_after=1.0,
            claim_idle=1.0,
        )
        authlib = httpx.AsyncClient(**idp.client_options())
        chains = [_transports(c) for c in (profiles._client, idp._client, authlib, deliverer._http)]
        for closing in (profiles.close(), idp.close(), deliverer.close(), authlib.aclose()):
            await closing
        return chains

    for chain in asyncio.run(run()):
        assert any(isinstance(t, GuardedTransport) for t in chain), chain
