"""Real OpenBao servers with integrated Raft storage on loopback: one node that can be sealed,
stopped and started again with its data, or a three-node HA cluster whose leader can be killed.

Unlike ``bao server -dev`` (in memory), these nodes keep their data on disk, so a restart is
a real restart: the node comes back sealed and is unsealed with the key kept here.

Facts measured on OpenBao 2.7.2 (loopback, ``performance_multiplier = 1``), which the
services' multi-address support (``VAULT_ADDR=a,b,c``) is built on:

- a standby answers ``sys/health`` with 429, serves reads (and Transit sign/encrypt) itself,
  and forwards writes to the active node over the cluster port;
- when the active node dies, writes on a standby are answered 307 (a redirect to the dead
  node's address: forwarding failed) until a new leader is elected (1-5 s here), then
  briefly 500 "local node not active but active cluster node not found"; reads go on;
- a node that joins is a non-voter until autopilot promotes it (``server_stabilization_time``,
  10 s by default; set to 1 s here), so a cluster is only HA once all three vote.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.support.openbao import bao_binary, free_port

__all__ = ["RaftCluster", "RaftNode"]


class RaftNode:
    """One ``bao server -config`` with Raft storage in ``data``; listens on ``port`` (API) and
    ``cluster_port`` (Raft and request forwarding)."""

    def __init__(self, data: Path, node_id: str) -> None:
        self.node_id = node_id
        self.data = data
        self.port = free_port()
        self.cluster_port = free_port()
        self.addr = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def config(self, peers: list[RaftNode]) -> str:
        joins = "".join(
            f'  retry_join {{\n    leader_api_addr = "{p.addr}"\n  }}\n'
            for p in peers
            if p is not self
        )
        return f"""storage "raft" {{
  path = "{self.data / "raft"}"
  node_id = "{self.node_id}"
  performance_multiplier = 1
  autopilot_reconcile_interval = "1s"
  autopilot_update_interval = "500ms"
{joins}}}
listener "tcp" {{
  address = "127.0.0.1:{self.port}"
  cluster_address = "127.0.0.1:{self.cluster_port}"
  tls_disable = true
}}
api_addr = "{self.addr}"
cluster_addr = "https://127.0.0.1:{self.cluster_port}"
disable_mlock = true
"""

    def start(self, peers: list[RaftNode]) -> None:
        """Start the process and wait until it listens (sealed: see
        :meth:`RaftCluster.unseal`)."""
        self.launch(peers)
        self.wait_listening()

    def launch(self, peers: list[RaftNode]) -> None:
        """Start the process without waiting for it."""
        (self.data / "raft").mkdir(parents=True, exist_ok=True)
        config = self.data / "node.hcl"
        config.write_text(self.config(peers))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        with (self.data / "node.log").open("ab") as log:
            self.process = subprocess.Popen(
                [bao_binary(), "server", f"-config={config}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def wait_listening(self) -> None:
        """Wait until ``sys/health`` answers (30 s at most)."""
        assert self.process is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.node_id} exited; see {self.data / 'node.log'}")
            if self.health() is not None:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.node_id} did not listen in time")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def health(self) -> int | None:
        """``sys/health``'s status (200 active, 429 standby, 501 new, 503 sealed); None if it
        does not answer."""
        try:
            return requests.get(f"{self.addr}/v1/sys/health", timeout=1).status_code
        except requests.RequestException:
            return None

    def kill(self) -> None:
        """SIGKILL: the node vanishes mid-request, as when its host dies."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM (an orderly shutdown: a leader steps down), SIGKILL after 15 s."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)  # in case a test froze it
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class RaftCluster:
    """``size`` Raft nodes joined to one another, initialised with one unseal key.

    ``with RaftCluster(3) as cluster: cluster.addrs, cluster.root_token, cluster.leader()``.
    """

    def __init__(self, size: int = 3, directory: Path | None = None) -> None:
        self._owned = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="raft-"))
        self.nodes = [RaftNode(self.directory / f"n{i + 1}", f"n{i + 1}") for i in range(size)]
        self.root_token = ""
        self.unseal_key = ""

    @property
    def addrs(self) -> str:
        """Every node's address, comma-separated (a multi-address ``VAULT_ADDR``)."""
        return ",".join(node.addr for node in self.nodes)

    def __enter__(self) -> RaftCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> RaftCluster:
        """Start every node, initialise the first, unseal all; wait until every node votes."""
        try:
            for node in self.nodes:
                node.launch(self.nodes)
            for node in self.nodes:
                node.wait_listening()
            first = self.nodes[0]
            init = requests.put(
                f"{first.addr}/v1/sys/init",
                json={"secret_shares": 1, "secret_threshold": 1},
                timeout=30,
            )
            init.raise_for_status()
            material = init.json()
            self.root_token = material["root_token"]
            self.unseal_key = material["keys_base64"][0]
            (self.directory / "init.json").write_text(json.dumps(material))
            self.unseal(first)
            self._wait(lambda: first.health() == 200, timeout, "the first node to become active")
            if len(self.nodes) > 1:
                # Joiners are non-voters until autopilot trusts them (10 s by default).
                self._api(
                    "POST",
                    "sys/storage/raft/autopilot/configuration",
                    {"server_stabilization_time": "1s"},
                )
            for node in self.nodes[1:]:  # they join at the same time
                self._submit_key(node)
            for node in self.nodes[1:]:
                self.unseal(node)
            self._wait(self.all_voting, timeout, "every node to vote")
        except BaseException:
            self.stop()
            raise
        return self

    def unseal(self, node: RaftNode, timeout: float = 30.0) -> None:
        """Submit the unseal key to ``node`` until it says it is unsealed."""
        self._wait(lambda: self._submit_key(node), timeout, f"{node.node_id} to unseal")

    def _submit_key(self, node: RaftNode) -> bool:
        """One ``sys/unseal`` call: True when the node says it is unsealed."""
        with contextlib.suppress(requests.RequestException, ValueError, KeyError):
            answer = requests.put(
                f"{node.addr}/v1/sys/unseal", json={"key": self.unseal_key}, timeout=5
            )
            return answer.status_code == 200 and answer.json()["sealed"] is False
        return False

    def seal(self) -> None:
        """Seal the active node (``sys/seal``: the way an operator stops Vault serving)."""
        self._api("PUT", "sys/seal", None, node=self.leader())

    def restart(self, node: RaftNode, timeout: float = 30.0) -> None:
        """Start ``node`` again with its data and unseal it."""
        node.start(self.nodes)
        self.unseal(node, timeout)

    def leader(self, timeout: float = 30.0) -> RaftNode:
        """The active node (waits for one)."""
        found: list[RaftNode] = []

        def elected() -> bool:
            found[:] = [n for n in self.nodes if n.running and n.health() == 200]
            return len(found) == 1

        self._wait(elected, timeout, "an active node")
        return found[0]

    def all_voting(self) -> bool:
        """Every node is a voter and one of them leads."""
        try:
            state = self._api("GET", "sys/storage/raft/autopilot/state", None)["data"]
        except (requests.RequestException, KeyError, ValueError):
            return False
        return sorted(state.get("voters") or []) == sorted(n.node_id for n in self.nodes) and bool(
            state.get("healthy")
        )

    def _api(
        self, method: str, path: str, body: dict[str, str] | None, node: RaftNode | None = None
    ) -> dict[str, object]:
        targets = [node] if node else [n for n in self.nodes if n.running]
        last: Exception | None = None
        for target in targets:
            try:
                answer = requests.request(
                    method,
                    f"{target.addr}/v1/{path}",
                    json=body,
                    headers={"X-Vault-Token": self.root_token},
                    timeout=10,
                )
                answer.raise_for_status()
                return answer.json() if answer.content else {}
            except requests.RequestException as exc:
                last = exc
        raise requests.RequestException(f"{method} {path} failed on every node: {last}")

    @staticmethod
    def _wait(condition: object, timeout: float, what: str) -> None:
        assert callable(condition)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}")

    def stop(self) -> None:
        """Stop every node and, unless a directory was given, delete the data."""
        for node in self.nodes:
            node.stop()
        if self._owned:
            shutil.rmtree(self.directory, ignore_errors=True)
