"""A real Redis for tests: Debian's `redis-server` (scripts/test installs it when missing)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import redis

from tests.support.openbao import free_port


class RedisServer:
    """`redis-server` on a free loopback port, in memory only (no RDB, no AOF)."""

    def __init__(self, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.args = args  # extra configuration, e.g. ("--requirepass", "secret")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> RedisServer:
        """Start and wait until PING answers."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: apt-get install redis-server")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}")
                try:
                    client.ping()
                    return self
                except redis.AuthenticationError:
                    return self  # it answers; this one wants a password
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        raise RuntimeError("redis-server did not answer PING in time")

    def client(self) -> redis.Redis:
        """A plain client on this server, for looking at what the code under test stored."""
        return redis.Redis.from_url(self.url, socket_timeout=2)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); resumes it first if it was paused."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
