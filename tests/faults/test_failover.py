"""A three-node OpenBao cluster (integrated Raft) loses its active node under load: the
services, given every node in ``VAULT_ADDR``, carry on with the others.

A smoke version of ``python -m benchmarks.failover`` (which measures the same with more
load and prints the figures of docs/reliability.md).
"""

from __future__ import annotations

import time

from shared.ops.bootstrap import bootstrap
from tests.support.faults.load import Load, check_answers, describe, slowest
from tests.support.faults.raft import RaftCluster
from tests.support.faults.stack import (
    ALWAYS_OK,
    CALL_BOUND,
    assert_bearers_verify,
    assert_jwes_open,
    root_vault,
    services,
)

#: How long the load goes on after the active node dies...
AFTER_KILL = 8.0
#: ...and from when every call must succeed: the election takes 1-5 s here, and a call to
#: a node that stopped answering mid-request fails once (it is not resent: it may have been
#: served), so single failures can come until then, never after.
SETTLED = 6.0


def test_services_follow_the_new_leader() -> None:
    """With the active node first in VAULT_ADDR, SIGKILLing it mid-load costs at most the
    calls in flight to it (503 + Retry-After); cached accounts encrypt throughout, and an
    account never loaded before, and token exchanges, work again and keep working once the
    cluster has settled (SETTLED after the kill)."""
    with RaftCluster(3) as cluster:
        admin = root_vault(cluster)
        bootstrap(admin)
        leader = cluster.leader()
        order = [leader] + [n for n in cluster.nodes if n is not leader]
        with services(admin, ",".join(n.addr for n in order)) as stack:
            with Load("", stack.warm_requests(), clients=4, pause=0.01) as load:
                time.sleep(0.5)
                killed = time.monotonic()
                leader.kill()
                # An account never loaded: its reads must find a node that serves them (the
                # election takes 1-5 s; standbys serve reads meanwhile).
                with Load(
                    "", [("cold", stack.encrypt_as(stack.cold))], clients=1, pause=0.1
                ) as cold:
                    time.sleep(AFTER_KILL)
                    cold_calls = cold.stop()
                calls = load.stop()
            everything = calls + cold_calls
            summary = describe(everything, killed)
            assert check_answers(everything) == [], summary
            assert [c for c in calls if c.kind in ALWAYS_OK and c.status != 200] == [], summary
            slow = slowest(everything)
            assert slow is not None
            assert slow.seconds < CALL_BOUND, (slow, summary)
            for kind, seen in (("token", calls), ("cold", cold_calls)):
                of_kind = [c for c in seen if c.kind == kind]
                failed = [c for c in of_kind if c.status != 200]
                last_failure = max((c.received for c in failed), default=killed)
                assert any(c.status == 200 and c.sent > last_failure for c in of_kind), (
                    kind,
                    summary,
                )
                settled = [c for c in of_kind if c.sent >= killed + SETTLED]
                assert settled, (kind, summary)
                assert all(c.status == 200 for c in settled), (kind, summary)
            assert_jwes_open(stack.admin, everything)
            assert_bearers_verify(stack.authz, calls)
            print(summary)  # the figures: pytest -rP tests/faults
