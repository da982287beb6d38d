"""Several Vault addresses (``VAULT_ADDR=a,b,c``): what moves a request to the next node and
what does not, against real servers (and a stand-in only for a standby's 307, which a real
one gives only during an election)."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import hvac
import pytest
import requests

from shared import (
    ConfigurationError,
    KeyStore,
    Settings,
    Vault,
    VaultSealed,
    VaultUnavailable,
)
from shared.ops.bootstrap import bootstrap
from tests.support.faults.stack import new_account
from tests.support.faulty_servers import LosesAnswers
from tests.support.jwks_server import JwksServer
from tests.support.openbao import DevServer, free_port
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def standby_without_leader() -> Iterator[JwksServer]:
    """Answers every request 307, as an OpenBao 2.7 standby does for a write while the
    active node is gone (forwarding failed; it redirects to the dead node)."""
    server = JwksServer().start()
    server.status, server.body = 307, b""
    try:
        yield server
    finally:
        server.stop()


def base(server: JwksServer) -> str:
    return server.url.rsplit("/", 1)[0]


@pytest.fixture
def second_bao() -> Iterator[DevServer]:
    server = DevServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_settings_split_vault_addr() -> None:
    """VAULT_ADDR may list several URLs separated by commas (spaces allowed); one URL is
    exactly as before."""
    one = Settings.from_env(environ={"VAULT_ADDR": "http://10.0.0.1:8200"})
    assert one.vault_addrs == ("http://10.0.0.1:8200",)
    assert one.vault_addr == "http://10.0.0.1:8200"
    several = Settings.from_env(
        environ={"VAULT_ADDR": "http://10.0.0.1:8200, https://vault-2:8200,http://[::1]:8200"}
    )
    assert several.vault_addrs == (
        "http://10.0.0.1:8200",
        "https://vault-2:8200",
        "http://[::1]:8200",
    )


@pytest.mark.parametrize(
    "value",
    [
        "http://a:8200,",
        "http://a:8200,,http://b:8200",
        "http://a:8200,b:8200",
        "http://a:1,http://a:1",
    ],
    ids=["trailing-comma", "empty-entry", "entry-without-scheme", "repeated"],
)
def test_bad_address_lists_are_refused(value: str) -> None:
    """A list with an empty, malformed or repeated entry is a configuration error naming
    VAULT_ADDR."""
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(environ={"VAULT_ADDR": value})
    assert "VAULT_ADDR" in caught.value.detail


def test_standby_redirect_is_unavailable(standby_without_leader: JwksServer) -> None:
    """A 3xx from Vault (a standby that cannot reach an active node) is a retryable
    VaultUnavailable, for reads, signatures and an AppRole login alike; it was a TypeError
    (hvac hands back the bare response when redirects are not followed), i.e. a 500 in the
    APIs during every leader election."""
    addr = base(standby_without_leader)
    vault = Vault(Settings(vault_addr=addr, vault_token="t", vault_timeout=1))
    for call in (
        lambda: vault.kv_read("accounts/acme"),
        lambda: vault.transit_read_key("account-acme"),
        lambda: vault.transit_sign_jws("authz-signing", [b"input"], 1),
    ):
        with pytest.raises(VaultUnavailable, match="307") as caught:
            call()
        assert caught.value.retryable is True
    service = Vault(
        Settings(vault_addr=addr, vault_role_id="role", vault_secret_id="secret", vault_timeout=1)
    )
    with pytest.raises(VaultUnavailable, match="307"):
        service.kv_read("accounts/acme")


def test_refused_address_moves_on_and_stays(bao: DevServer, vault: Vault) -> None:
    """A refused connection sends the request to the next address at once, and the next
    requests stay there: the first address is not tried again while the second works."""
    proxy = TcpProxy("127.0.0.1", bao.port)  # not started: refuses
    multi = Vault(Settings(vault_addr=f"{proxy.addr},{bao.addr}", vault_token=bao.token))
    start = time.monotonic()
    assert multi.mounts()  # served by the second address
    assert time.monotonic() - start < 0.5  # no back-off: another node was there
    assert multi.addr == bao.addr
    proxy.start()
    try:
        for _ in range(5):
            multi.mounts()
        assert proxy.accepted == 0
    finally:
        proxy.stop()


def test_sealed_and_redirecting_nodes_are_skipped(
    private_bao: DevServer, second_bao: DevServer, standby_without_leader: JwksServer
) -> None:
    """A sealed node and a standby without a leader did not serve the request, so it goes to
    the next address; when every address is sealed, the error is VaultSealed."""
    hvac.Client(url=private_bao.addr, token=private_bao.token).sys.seal()
    bootstrap(Vault(Settings(vault_addr=second_bao.addr, vault_token=second_bao.token)))
    # Same token on every "node" (one cluster would share it): the second server's.
    addrs = f"{private_bao.addr},{base(standby_without_leader)},{second_bao.addr}"
    multi = Vault(Settings(vault_addr=addrs, vault_token=second_bao.token, vault_timeout=2))
    assert "transit/" in multi.mounts()
    assert multi.addr == second_bao.addr
    # The sealed node under two names: every address of the list is sealed.
    also_sealed = private_bao.addr.replace("127.0.0.1", "localhost")
    all_sealed = Vault(
        Settings(vault_addr=f"{private_bao.addr},{also_sealed}", vault_token=private_bao.token)
    )
    with pytest.raises(VaultSealed):
        all_sealed.mounts()


def test_timeout_is_not_resent_but_the_next_request_moves_on(bao: DevServer, vault: Vault) -> None:
    """A node that does not answer in time costs that request one timeout (it may have been
    served: never sent twice); the following requests go to the next address."""
    hung = JwksServer().start()
    hung.delay = 3.0
    try:
        multi = Vault(
            Settings(
                vault_addr=f"{base(hung)},{bao.addr}", vault_token=bao.token, vault_timeout=0.5
            )
        )
        start = time.monotonic()
        with pytest.raises(VaultUnavailable, match="in time"):
            multi.mounts()
        assert time.monotonic() - start < 1.2
        assert hung.requests == 1
        assert "transit/" in multi.mounts()
        assert hung.requests == 1
    finally:
        hung.stop()


def test_lost_answer_is_not_resent_to_another_node(bao: DevServer, vault: Vault) -> None:
    """A rotate whose connection broke after it was sent is not sent to the next node (the
    first may have rotated already): one request, VaultUnavailable, no rotation."""
    account = new_account(vault, "lost")
    server = LosesAnswers()
    try:
        multi = Vault(Settings(vault_addr=f"{server.url},{bao.addr}", vault_token=bao.token))
        with pytest.raises(VaultUnavailable):
            multi.transit_rotate(f"account-{account.id}")
        assert server.requests == 1
        assert KeyStore(vault).get(account.id).latest_version == 1
        assert multi.addr == bao.addr  # the next request goes to the other node
    finally:
        server.close()


def test_all_refused_backs_off_like_one_address() -> None:
    """Nothing listening anywhere: each address is tried, then the whole list again after
    the usual short pauses, and VaultUnavailable comes quickly."""
    addrs = ",".join(f"http://127.0.0.1:{free_port()}" for _ in range(3))
    vault = Vault(Settings(vault_addr=addrs, vault_timeout=2))
    start = time.monotonic()
    with pytest.raises(VaultUnavailable):
        vault.mounts()
    elapsed = time.monotonic() - start
    assert 0.15 <= elapsed < 1.0  # the 50 + 100 ms pauses between rounds, nothing more


class _ForwardsThenRedirects(http.server.BaseHTTPRequestHandler):
    """A standby whose forwarding failed *after* the active node applied the write: OpenBao
    (http/handler.go, handleRequestForwarding → respondStandby) then still answers 307."""

    active = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        requests.post(
            self.active + self.path,
            data=body,
            headers={"X-Vault-Token": self.headers.get("X-Vault-Token", "")},
            timeout=5,
        )
        self.send_response(307)
        self.send_header("Location", self.active + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_POST  # noqa: N815 - the http.server method name

    def do_GET(self) -> None:
        # Reads a standby serves itself (here: from the active node's answer).
        answer = requests.get(
            self.active + self.path,
            headers={"X-Vault-Token": self.headers.get("X-Vault-Token", "")},
            timeout=5,
        )
        self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args: object) -> None:
        pass


def test_a_write_a_standby_may_have_forwarded_is_not_sent_twice(
    bao: DevServer, vault: Vault
) -> None:
    """A rotation answered 307 by a standby may have been applied: it fails (503-worthy)
    instead of being sent again to the next node, and the next request uses that node."""
    account = new_account(vault, "standby").id
    keys = KeyStore(vault)
    before = keys.get(account).latest_version

    handler = type("Standby", (_ForwardsThenRedirects,), {"active": bao.addr})
    standby = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=standby.serve_forever, daemon=True).start()
    try:
        addrs = f"http://127.0.0.1:{standby.server_address[1]},{bao.addr}"
        two = Vault(Settings(vault_addr=addrs, vault_token=bao.token))
        with pytest.raises(VaultUnavailable):
            KeyStore(two).rotate(account)
        assert keys.get(account).latest_version == before + 1  # applied once, not twice
        assert two.addr == bao.addr  # the next request goes to the other node
    finally:
        standby.shutdown()
        standby.server_close()
