"""A Redis Sentinel set-up on loopback for tests: a master, two replicas, three Sentinels.

Debian's ``redis-server`` and ``redis-sentinel`` (scripts/test installs them), each on a
free port of 127.0.0.1, every file (append-only files, Sentinel configurations, logs) in a
temporary folder. The Sentinels judge a node down after ``down_after_ms`` (1 s by default)
and two of the three must agree, so killing the master promotes a replica in a few
seconds.

The data nodes are configured as docs/decisions.md asks of a Sentinel deployment: a master
takes a write only while a replica has acknowledged the stream within
``min-replicas-max-lag`` seconds (``min-replicas-to-write 1``), so an old master cut off by
a failover refuses writes instead of taking writes that its demotion will drop. Two
replicas, so that the new master still has one after a failover.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from tests.support.openbao import free_port
from tests.support.redis_server import RedisServer

__all__ = ["SERVICE", "SentinelSet"]

#: The service name the Sentinels monitor.
SERVICE = "tokens"


#: A master refuses writes when no replica acknowledged within this many seconds.
MAX_LAG = 2


def _data_node(directory: Path, port: int, *extra: str) -> RedisServer:
    """A data node that writes every command to its append-only file before answering, and
    takes writes as a master only with a replica in reach."""
    directory.mkdir(parents=True, exist_ok=True)
    return RedisServer(
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        str(directory),
        "--logfile",
        str(directory / "redis.log"),
        "--min-replicas-to-write",
        "1",
        "--min-replicas-max-lag",
        str(MAX_LAG),
        *extra,
        port=port,
    )


class SentinelSet:
    """A master, two replicas and three Sentinels watching them (a context manager)."""

    def __init__(self, directory: Path, *, down_after_ms: int = 1000) -> None:
        self.directory = directory
        self.down_after_ms = down_after_ms
        self.ports = [free_port() for _ in range(3)]
        self.nodes: dict[int, RedisServer] = {}
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinels: list[subprocess.Popen[bytes]] = []
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        #: ``REDIS_URL`` for the code under test.
        self.url = f"redis+sentinel://{hosts}/{SERVICE}/0"

    def __enter__(self) -> SentinelSet:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        """Start the nodes and the Sentinels; return once every Sentinel sees the master,
        both replicas in sync, and the two other Sentinels."""
        binary = shutil.which("redis-sentinel")
        if binary is None:
            raise RuntimeError("redis-sentinel is missing: apt-get install redis-sentinel")
        master, *replicas = self.ports
        self.nodes[master] = _data_node(self.directory / f"node-{master}", master).start()
        for replica in replicas:
            self.nodes[replica] = _data_node(
                self.directory / f"node-{replica}",
                replica,
                "--replicaof",
                "127.0.0.1",
                str(master),
            ).start()
        for replica in replicas:
            self._wait(lambda r=replica: self._in_sync(r), timeout, "a replica did not sync")
        for port in self.sentinel_ports:
            folder = self.directory / f"sentinel-{port}"
            folder.mkdir(parents=True)
            config = folder / "sentinel.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\nlogfile {folder / 'sentinel.log'}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {master} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}\n"
                f"sentinel failover-timeout {SERVICE} 5000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            # Sentinel rewrites its configuration file: it must be its own, and writable.
            self.sentinels.append(
                subprocess.Popen(
                    [binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        self._wait(self._settled, timeout, "the Sentinels did not find each other")

    def stop(self) -> None:
        """Stop every process (the Sentinels first, so that none starts a failover)."""
        for process in self.sentinels:
            if process.poll() is None:
                process.kill()
                process.wait()
        for node in self.nodes.values():
            node.stop()

    def sentinel(self, port: int | None = None) -> redis.Redis:
        """A plain client on one of the Sentinels."""
        return redis.Redis(host="127.0.0.1", port=port or self.sentinel_ports[0], socket_timeout=1)

    def master_port(self) -> int | None:
        """The master's port as the first Sentinel that answers names it."""
        for port in self.sentinel_ports:
            client = self.sentinel(port)
            try:
                found: Any = client.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE)
            except redis.RedisError:
                continue
            finally:
                client.close()
            if found:
                return int(found[1])
        return None

    def node(self, port: int) -> redis.Redis:
        """A plain client on the data node at ``port``."""
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)

    def kill_master(self) -> int:
        """SIGKILL the current master (no shutdown, no last write to disk); its port."""
        port = self.master_port()
        assert port is not None, "no Sentinel names a master"
        process = self.nodes[port].process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait()
        return port

    def freeze_master(self) -> int:
        """SIGSTOP the current master (it hangs: connections open, no answers); its port."""
        port = self.master_port()
        assert port is not None, "no Sentinel names a master"
        process = self.nodes[port].process
        assert process is not None
        process.send_signal(signal.SIGSTOP)
        return port

    def thaw(self, port: int) -> None:
        """SIGCONT the node at ``port`` (a frozen master comes back believing it is one)."""
        process = self.nodes[port].process
        assert process is not None
        process.send_signal(signal.SIGCONT)

    def wait_replica(self, port: int, timeout: float = 30.0) -> None:
        """Wait until the node at ``port`` is a replica in sync (the Sentinels demoted it)."""
        self._wait(
            lambda: self._role(port) == "slave" and self._in_sync(port),
            timeout,
            f"the node at {port} was not made a replica",
        )

    def wait_promoted(self, old: int, timeout: float = 30.0) -> int:
        """Wait until every Sentinel names another master than ``old`` and that node says it
        is master; its port."""

        def promoted() -> bool:
            ports = {self._named(port) for port in self.sentinel_ports}
            if len(ports) != 1 or None in ports or old in ports:
                return False
            return self._role(ports.pop() or 0) == "master"

        self._wait(promoted, timeout, "no replica was promoted")
        port = self.master_port()
        assert port is not None
        return port

    def restart(self, port: int) -> None:
        """Start the node at ``port`` again, with its files (the Sentinels make it a replica
        of the new master)."""
        self.nodes[port] = _data_node(self.directory / f"node-{port}", port).start()

    def _named(self, sentinel_port: int) -> int | None:
        client = self.sentinel(sentinel_port)
        try:
            found: Any = client.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE)
        except redis.RedisError:
            return None
        finally:
            client.close()
        return int(found[1]) if found else None

    def _role(self, port: int) -> str | None:
        client = self.node(port)
        try:
            info: Any = client.info("replication")
        except redis.RedisError:
            return None
        finally:
            client.close()
        return str(info.get("role"))

    def _in_sync(self, port: int) -> bool:
        client = self.node(port)
        try:
            info: Any = client.info("replication")
        except redis.RedisError:
            return False
        finally:
            client.close()
        return info.get("master_link_status") == "up"

    def _settled(self) -> bool:
        for port in self.sentinel_ports:
            client = self.sentinel(port)
            try:
                state: Any = client.sentinel_master(SERVICE)
            except redis.RedisError:
                return False
            finally:
                client.close()
            if state["num-other-sentinels"] < 2 or state["num-slaves"] < len(self.ports) - 1:
                return False
        return True

    @staticmethod
    def _wait(condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(what)
            time.sleep(0.05)
