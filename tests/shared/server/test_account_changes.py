"""Issue 13, finding 4: `tokenctl accounts disable` takes effect at once on every API
process listening on ``REDIS_URL`` (real Redis, both APIs over real HTTP, real OpenBao), the
cache TTL staying the fallback; the listener ignores junk and survives Redis restarts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from shared import Account, Settings
from shared.server.account_changes import CHANNEL, AccountChangeListener, message_for
from tests.support.apis import Apis, CliResult, make_hmac_account, serve_apis, vault_cli
from tests.support.crypto import assert_problem
from tests.support.redis_server import RedisServer

Cli = Callable[..., CliResult]
#: Far longer than the test: whatever is refused at once was not refused by the TTL.
LONG_TTL = 300.0


@pytest.fixture(scope="module")
def redis_of_its_own() -> Iterator[RedisServer]:
    """A Redis for this module alone: its channel has only this module's listeners."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def listening(settings: Settings, vault: object, redis_of_its_own: RedisServer) -> Iterator[Apis]:
    """Both APIs with REDIS_URL and a long cache TTL, once both listen on the channel."""
    with_redis = msgspec.structs.replace(
        settings, redis_url=redis_of_its_own.url, cache_ttl=LONG_TTL
    )
    with serve_apis(with_redis, crypto_rate_per_second=0.0) as apis:
        client = redis_of_its_own.client()
        deadline = time.monotonic() + 10
        while dict(client.pubsub_numsub(CHANNEL)).get(CHANNEL.encode(), 0) < 2:
            assert time.monotonic() < deadline, "the APIs never subscribed"
            time.sleep(0.05)
        client.close()
        yield apis


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings
) -> Cli:
    """tokenctl in-process, with the session Vault in its environment (and no REDIS_URL
    unless a test sets one)."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    return vault_cli(monkeypatch, capsys, settings)


def test_disable_refuses_the_very_next_encrypt(
    listening: Apis,
    redis_of_its_own: RedisServer,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    make_account: Callable[..., Account],
    hmac_secret: bytes,
    tmp_path: Path,
) -> None:
    """With REDIS_URL, `accounts disable` is seen by both APIs at once: an encrypt with a
    valid bearer is 403 ACCOUNT_DISABLED and a token request 401 right after it (the next
    call, unless the listener thread has not run yet on a loaded machine: then within a
    second), against a cache TTL of 300 s; the CLI says how many processes it told."""
    account = make_hmac_account(make_account, hmac_secret, tmp_path)
    crypto = listening.crypto
    bearer = crypto.bearer(account.id, "HS256", account.secret)
    assert crypto.encrypt(bearer, account.token()).status_code == 200  # cached now
    monkeypatch.setenv("REDIS_URL", redis_of_its_own.url)
    started = time.monotonic()
    code, out, err = cli("accounts", "disable", account.id)
    assert (code, err) == (0, "")
    assert "takes effect at once on the 2 API process(es) listening on REDIS_URL" in out
    assert (
        "within 36 s (the cache TTL and its refresh window) on instances without REDIS_URL" in out
    )
    returned = time.monotonic()
    attempts, response = 1, crypto.encrypt(bearer, account.token())
    # The message reaches the API's listener thread asynchronously: in this one test
    # process it competes for the GIL with the request threads, so allow it a moment.
    while response.status_code == 200 and time.monotonic() - returned < 1.0:
        time.sleep(0.01)
        attempts, response = attempts + 1, crypto.encrypt(bearer, account.token())
    lag = time.monotonic() - returned
    print(f"refused {lag * 1000:.0f} ms after the CLI returned, attempt {attempts}")  # -rP
    assert_problem(response, 403, "ACCOUNT_DISABLED")
    exchanged = listening.authz.jwt_bearer(account.id, account.token())
    assert exchanged.status_code == 401, exchanged.text
    assert exchanged.json()["error"] == "invalid_client"
    assert time.monotonic() - started < 5  # nowhere near the TTL


def test_enable_is_seen_at_once_too(
    listening: Apis,
    redis_of_its_own: RedisServer,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    make_account: Callable[..., Account],
    hmac_secret: bytes,
    tmp_path: Path,
) -> None:
    """`accounts update --enable` (like any update) is published too: a disabled account,
    refused and cached so, encrypts again at once."""
    account = make_hmac_account(make_account, hmac_secret, tmp_path)
    crypto = listening.crypto
    bearer = crypto.bearer(account.id, "HS256", account.secret)
    monkeypatch.setenv("REDIS_URL", redis_of_its_own.url)
    assert cli("accounts", "disable", account.id)[0] == 0
    refused = _soon(lambda: crypto.encrypt(bearer, account.token()), 403)
    assert_problem(refused, 403, "ACCOUNT_DISABLED")
    code, out, _ = cli("accounts", "update", account.id, "--enable", "--json")
    assert code == 0
    assert json.loads(out)["takes_effect"] == {"listeners": 2, "fallback_seconds": 36.0}
    assert _soon(lambda: crypto.encrypt(bearer, account.token()), 200).status_code == 200


def _soon(call: Callable[[], httpx.Response], status: int) -> httpx.Response:
    """``call()`` until it answers ``status``, for at most a second (the listener thread may
    not have run yet on a loaded machine); the last answer."""
    returned = time.monotonic()
    response = call()
    while response.status_code != status and time.monotonic() - returned < 1.0:
        time.sleep(0.01)
        response = call()
    return response


def test_without_redis_the_cli_says_when(
    cli: Cli, make_account: Callable[..., Account], hmac_secret: bytes, tmp_path: Path
) -> None:
    """Without REDIS_URL the CLI says exactly when the change takes effect: within the
    cache TTL, no process having been told."""
    account = make_hmac_account(make_account, hmac_secret, tmp_path)
    code, out, _ = cli("accounts", "disable", account.id)
    assert code == 0
    assert out.strip() == (
        f"disabled account {account.id}: its tokens and bearers are refused; takes effect "
        "within 36 s (the cache TTL and its refresh window) (REDIS_URL is not set here: no API "
        "process was told "
        "at once)"
    )


def test_a_redis_url_without_a_scheme_is_said_not_raised(
    cli: Cli,
    make_account: Callable[..., Account],
    hmac_secret: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A REDIS_URL redis-py cannot parse (no scheme): the account is disabled (exit 0) and
    the CLI says Redis could not be told, rather than a traceback after the Vault write."""
    account = make_hmac_account(make_account, hmac_secret, tmp_path)
    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    code, out, err = cli("accounts", "disable", account.id)
    assert (code, err) == (0, "")
    assert "Redis could not be told (ConfigurationError): takes effect within 36 s" in out


class Heard:
    """What a listener's callbacks were called with."""

    def __init__(self) -> None:
        self.changed: list[str] = []
        self.missed = 0
        self.event = threading.Event()

    def change(self, account_id: str) -> None:
        self.changed.append(account_id)
        self.event.set()

    def miss(self) -> None:
        self.missed += 1


def _wait(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_listener_ignores_junk_and_survives_a_redis_restart() -> None:
    """Messages that are not ours (other text, a malformed id) are ignored; when Redis goes
    away the listener keeps retrying without raising, and once Redis is back it listens
    again and reports that changes may have been missed."""
    first = RedisServer().start()
    heard = Heard()
    listener = AccountChangeListener(first.url, heard.change, heard.miss, poll=0.1)
    listener.start()
    second: RedisServer | None = None
    try:
        assert listener.subscribed.wait(10)
        client = first.client()
        for junk in ("hello", "account changed: NOT AN ID!", "account changed: "):
            client.publish(CHANNEL, junk)
        client.publish(CHANNEL, message_for("acme"))
        assert heard.event.wait(5)
        assert heard.changed == ["acme"]
        client.close()
        first.stop()
        _wait(lambda: not listener.subscribed.is_set())
        time.sleep(1.0)  # a few failed reconnections
        second = RedisServer(port=first.port).start()
        assert listener.subscribed.wait(35)
        assert heard.missed >= 1
        heard.event.clear()
        again = second.client()
        again.publish(CHANNEL, message_for("other"))
        again.close()
        assert heard.event.wait(5)
        assert heard.changed == ["acme", "other"]
    finally:
        listener.stop()
        first.stop()
        if second is not None:
            second.stop()
