"""The Crypto API under traffic while Vault changes under it: a key rotation, an outage.

Real HTTP, real OpenBao, the real Authorization API; the outage is a real TCP proxy between
the Crypto API and a private OpenBao that is cut and restored, so Vault comes back with its
data (a dev server keeps it in memory only).
"""

from __future__ import annotations

import inspect
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from shared import Account, AccountStore, KeyStore, PublicKeyValidation, Settings, Vault, Verifier
from shared.ops.bootstrap import bootstrap
from shared.tokens.cache import TtlCache
from tests.support.authz import serve
from tests.support.crypto import Crypto, assert_problem, serve_crypto
from tests.support.openbao import DevServer
from tests.support.tcp_proxy import TcpProxy
from tests.support.tokens import claims, pem, sign

#: Concurrent clients of the load.
CLIENTS = 4
#: Per client: a bound on calls whatever the speed of the machine.
MAX_CALLS_PER_CLIENT = 2000
#: Slack for a background refresh to land and the request after it to go through.
MARGIN = 0.5
#: The back-off after a failed reload before the cache asks Vault again (TtlCache's
#: ``retry_interval``; not a setting).
RETRY: float = inspect.signature(TtlCache).parameters["retry_interval"].default


@dataclass(frozen=True)
class Sample:
    """One encrypt call of the load (monotonic times)."""

    sent: float
    received: float
    status: int
    kid: str | None
    token: str | None
    detail: str


class Load:
    """``CLIENTS`` threads posting one JWS to ``/v1/encrypt`` until told to stop (or until
    ``max_seconds`` / ``MAX_CALLS_PER_CLIENT``), each recording every call; ``pause`` between
    a client's calls keeps the number of JWEs to verify afterwards reasonable."""

    def __init__(
        self, crypto: Crypto, bearer: str, jws: str, *, max_seconds: float, pause: float = 0.0
    ) -> None:
        self._url = crypto.url
        self._pause = pause
        self._headers = {"Authorization": f"Bearer {bearer}"}
        self._jws = jws
        self._deadline = time.monotonic() + max_seconds
        self._stop = threading.Event()
        self._results: list[list[Sample]] = [[] for _ in range(CLIENTS)]
        self._threads = [
            threading.Thread(target=self._run, args=(samples,), daemon=True)
            for samples in self._results
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[Sample]:
        """Stop the clients, join them, and return every call in the order they were sent."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        assert not any(t.is_alive() for t in self._threads), "a load client did not finish"
        return sorted((s for samples in self._results for s in samples), key=lambda s: s.sent)

    def _run(self, samples: list[Sample]) -> None:
        with httpx.Client(base_url=self._url, timeout=10) as http:
            while (
                not self._stop.is_set()
                and time.monotonic() < self._deadline
                and len(samples) < MAX_CALLS_PER_CLIENT
            ):
                sent = time.monotonic()
                try:
                    response = http.post(
                        "/v1/encrypt", json={"token": self._jws}, headers=self._headers
                    )
                except httpx.HTTPError as exc:  # a transport failure is a failed call too
                    samples.append(Sample(sent, time.monotonic(), 0, None, None, repr(exc)))
                    continue
                body: dict[str, Any] = response.json()
                ok = response.status_code == 200
                samples.append(
                    Sample(
                        sent,
                        time.monotonic(),
                        response.status_code,
                        body.get("kid") if ok else None,
                        body.get("token") if ok else None,
                        "" if ok else response.text,
                    )
                )
                self._stop.wait(self._pause)


def kid_is(kid: str) -> Callable[[httpx.Response], bool]:
    """A check that an encrypt call succeeded with key ``kid``."""
    return lambda response: response.status_code == 200 and response.json()["kid"] == kid


def poll(
    call: Callable[[], httpx.Response], done: Callable[[httpx.Response], bool], seconds: float
) -> tuple[httpx.Response, float]:
    """``call()`` until ``done`` says so or ``seconds`` pass: the last response, time taken."""
    start = time.monotonic()
    while True:
        response = call()
        if done(response) or time.monotonic() - start > seconds:
            return response, time.monotonic() - start
        time.sleep(0.05)


def spread(samples: list[Sample], count: int) -> list[Sample]:
    """At most ``count`` of ``samples`` per key, evenly spread over the run."""
    by_kid: dict[str | None, list[Sample]] = {}
    for sample in samples:
        by_kid.setdefault(sample.kid, []).append(sample)
    return [s for same in by_kid.values() for s in same[:: max(1, len(same) // count)]]


def failures(samples: list[Sample]) -> list[Sample]:
    """The calls that did not answer 200 (transport failures included)."""
    return [s for s in samples if s.status != 200]


def assert_all_verify(
    verifier: Verifier, account_id: str, samples: list[Sample], versions: set[int]
) -> None:
    """Every JWE of ``samples`` opens with the player's verifier (Transit decrypts), and
    the key versions that sealed them are exactly ``versions``."""
    jwes = {s.token for s in samples if s.token}

    def check(jwe: str) -> int | None:
        return verifier.verify(jwe, account_id=account_id, campaign_id="1001").key_version

    with ThreadPoolExecutor(max_workers=8) as pool:
        opened = set(pool.map(check, jwes))
    assert opened == versions


def test_rotation_under_traffic(
    make_crypto: Callable[..., Any],
    make_account: Callable[..., Account],
    keystore: KeyStore,
    vault: Vault,
) -> None:
    """A rotation in Vault while clients encrypt fails no call; JWEs sealed before it carry
    version 1, those requested a TTL after it carry version 2, and all still verify."""
    ttl = 1.0
    account = make_account(algorithms=("ES256",), key="ec-p256")
    jws = sign(claims(), "ES256", "ec-p256")
    with make_crypto(cache_ttl=ttl, crypto_rate_per_second=0.0) as crypto:
        bearer = crypto.bearer(account.id)
        assert crypto.encrypt(bearer, jws).json()["kid"] == f"{account.id}/1"
        # A steady ~150 calls/s rather than flat out: every JWE is opened in Transit
        # afterwards, which costs more than sealing it.
        with Load(crypto, bearer, jws, max_seconds=8.0, pause=0.02) as load:
            time.sleep(1.0)
            rotation_started = time.monotonic()
            assert keystore.rotate(account.id).latest_version == 2
            rotated = time.monotonic()
            time.sleep(ttl + MARGIN + 1.0)
            samples = load.stop()

    assert samples, "the load made no call"
    assert failures(samples) == []
    before = [s for s in samples if s.received < rotation_started]
    after = [s for s in samples if s.sent > rotated + ttl + MARGIN]
    assert len(before) >= CLIENTS
    assert len(after) >= CLIENTS
    assert {s.kid for s in before} == {f"{account.id}/1"}
    assert {s.kid for s in after} == {f"{account.id}/2"}
    assert_all_verify(Verifier(vault), account.id, samples, {1, 2})


def new_account(store: AccountStore, label: str) -> Account:
    """An ES256 public-key account in ``store``'s Vault, with its Transit key."""
    validation = PublicKeyValidation(algorithms=("ES256",), public_key_pem=pem("ec-p256"))
    return store.create(Account(id=f"t-{label}-{uuid.uuid4().hex[:8]}", validation=validation))


def test_vault_cut_off_under_traffic_then_back(private_bao: DevServer) -> None:
    """With Vault unreachable for longer than the cache TTL, a cached account keeps
    encrypting with no failed call and an account never loaded gets 503 UNKNOWN with
    Retry-After; once Vault is reachable again, without a restart, that account encrypts and
    rotations made during and after the outage reach new JWEs."""
    ttl, outage = 2.0, 4.0
    direct = Settings(vault_addr=private_bao.addr, vault_token=private_bao.token)
    vault = Vault(direct)
    bootstrap(vault)
    store, keystore = AccountStore(vault), KeyStore(vault)
    warm, cold = new_account(store, "warm"), new_account(store, "cold")
    jws = sign(claims(), "ES256", "ec-p256")
    proxy = TcpProxy("127.0.0.1", private_bao.port).start()
    try:
        via_proxy = msgspec.structs.replace(direct, vault_addr=proxy.addr)
        with (
            serve(direct, rate_limit_per_second=0.0) as authz,
            serve_crypto(
                via_proxy, authz, crypto_rate_per_second=0.0, vault_timeout=1.0, cache_ttl=ttl
            ) as crypto,
        ):
            warm_bearer, cold_bearer = crypto.bearer(warm.id), crypto.bearer(cold.id)
            for _ in range(3):
                assert kid_is(f"{warm.id}/1")(crypto.encrypt(warm_bearer, jws))
            assert proxy.accepted > 0, "the Crypto API does not reach Vault through the proxy"

            def encrypt_warm() -> httpx.Response:
                return crypto.encrypt(warm_bearer, jws)

            with Load(crypto, warm_bearer, jws, max_seconds=14.0) as load:
                time.sleep(0.5)
                proxy.stop()
                cut = time.monotonic()
                unavailable = crypto.encrypt(cold_bearer, jws)
                keystore.rotate(warm.id)  # Vault itself is up: only the path to it is cut
                time.sleep(max(0.0, cut + outage - time.monotonic()))
                proxy.start()
                back = time.monotonic()
                recovered, recovered_in = poll(
                    lambda: crypto.encrypt(cold_bearer, jws), kid_is(f"{cold.id}/1"), 5.0
                )
                # The cache asks Vault again once the back-off after its last failure ends:
                # that, not the TTL, bounds how soon a rotation made during the outage shows.
                during, _ = poll(
                    encrypt_warm, kid_is(f"{warm.id}/2"), back + RETRY + MARGIN - time.monotonic()
                )
                during_in = time.monotonic() - back
                keystore.rotate(warm.id)
                after, after_in = poll(encrypt_warm, kid_is(f"{warm.id}/3"), ttl + MARGIN)
                time.sleep(0.3)  # some load under the newest key too
                samples = load.stop()
    finally:
        proxy.stop()

    assert failures(samples) == []
    # Calls made once every cached entry had expired: only stale-if-error could serve them.
    assert sum(1 for s in samples if cut + ttl <= s.sent < back) >= CLIENTS
    assert_problem(unavailable, 503, "UNKNOWN")
    assert unavailable.headers["retry-after"].isdigit()
    assert kid_is(f"{cold.id}/1")(recovered), (recovered_in, recovered.text)
    assert kid_is(f"{warm.id}/2")(during), (during_in, during.text)
    assert kid_is(f"{warm.id}/3")(after), (after_in, after.text)
    assert_all_verify(Verifier(vault), warm.id, spread(samples, 50), {1, 2, 3})


def test_readiness_rides_out_a_vault_outage(private_bao: DevServer) -> None:
    """With Vault cut off, an instance holding keys stays ready (a load balancer must not
    drain it) and says Vault is unavailable; one holding nothing is not ready (503)."""
    direct = Settings(vault_addr=private_bao.addr, vault_token=private_bao.token)
    bootstrap(Vault(direct))
    account = AccountStore(Vault(direct)).create(
        Account(
            id="ready",
            validation=PublicKeyValidation(algorithms=("ES256",), public_key_pem=pem("ec-p256")),
        )
    )
    proxy = TcpProxy("127.0.0.1", private_bao.port).start()
    via_proxy = msgspec.structs.replace(
        direct, vault_addr=f"http://127.0.0.1:{proxy.port}", vault_timeout=1.0
    )
    try:
        with (
            serve(direct, rate_limit_per_second=0.0) as authz,
            serve_crypto(via_proxy, authz, crypto_rate_per_second=0.0) as warm,
            serve_crypto(via_proxy, authz, crypto_rate_per_second=0.0) as cold,
        ):
            assert (
                warm.encrypt(
                    warm.bearer(account.id), sign(claims(), "ES256", "ec-p256")
                ).status_code
                == 200
            )
            assert warm.http.get("/health/ready").json()["vault"] == "ok"
            proxy.stop()
            ready = warm.http.get("/health/ready")
            assert ready.status_code == 200
            assert ready.json()["vault"].startswith("unavailable")
            not_ready = cold.http.get("/health/ready")
            assert not_ready.status_code == 503
            assert not_ready.headers["retry-after"]
    finally:
        proxy.stop()
