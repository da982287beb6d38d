"""Fixtures: both APIs over real HTTP on a Vault the test may break; JWKS customers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared import Settings, Vault
from shared.ops.bootstrap import bootstrap
from tests.support.authz import serve
from tests.support.crypto import serve_crypto
from tests.support.faults.customer import Apis, Rotating, rotating_account
from tests.support.faults.raft import RaftCluster
from tests.support.faults.stack import root_vault
from tests.support.jwks_server import JwksServer


@pytest.fixture(scope="module")
def raft_server() -> Iterator[RaftCluster]:
    """A one-node OpenBao with Raft storage on disk (it can be stopped, restarted, sealed),
    bootstrapped; one per module, see :func:`raft_node`."""
    with RaftCluster(1) as cluster:
        bootstrap(root_vault(cluster))
        yield cluster


@pytest.fixture
def raft_node(raft_server: RaftCluster) -> RaftCluster:
    """The module's Raft node, running, unsealed and active, whatever the previous test
    left it in (each test makes its own accounts and services)."""
    node = raft_server.nodes[0]
    if not node.running:
        raft_server.restart(node)
    raft_server.unseal(node)
    raft_server.leader()
    return raft_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run test_jwks's key change after the other fault tests: it needs its key set fetched
    30 s before (see :func:`rotating`), and they fill that time."""
    mine = [i for i in items if i.nodeid.startswith("tests/faults/")]
    late = [i for i in mine if i.name == "test_key_change"]
    if not late or not mine:
        return
    last = items.index(mine[-1])
    for item in late:
        items.remove(item)
        items.insert(last, item)


@pytest.fixture(scope="package")
def jwks_apis(settings: Settings, vault: Vault) -> Iterator[Apis]:
    """Both APIs on the session OpenBao, for JWKS customers (rate limits off)."""
    with (
        serve(settings, rate_limit_per_second=0.0) as authz,
        serve_crypto(settings, authz, crypto_rate_per_second=0.0) as crypto,
    ):
        yield Apis(authz=authz, crypto=crypto, vault=vault)


@pytest.fixture(scope="package", autouse=True)
def rotating(jwks_apis: Apis) -> Iterator[Rotating]:
    """A JWKS account both APIs fetched when the package started. test_jwks's key change
    needs its key set fetched MIN_REFRESH (30 s) before: made here, and that test run last,
    the other fault tests fill the time (run by itself, it waits)."""
    server = JwksServer().start()
    try:
        yield rotating_account(jwks_apis, server)
    finally:
        server.stop()
