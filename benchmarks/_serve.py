"""Our APIs as production runs them (``tokenctl serve``), and a look at their worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = [
    "busy_seconds",
    "cpu_seconds",
    "expect_ok",
    "rss_mb",
    "serve",
    "stop",
    "wait_ready",
    "worker_pids",
]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def expect_ok(response: httpx.Response) -> None:
    """Exit with the answer unless it is a 200 (a set-up step failed)."""
    if response.status_code != 200:
        sys.exit(
            f"set-up failed: {response.request.url} -> {response.status_code}: {response.text}"
        )


def wait_ready(url: str, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``url`` answers 200 (30 s), exiting early if ``process`` died."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            sys.exit(f"the server for {url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    sys.exit(f"{url} did not come up")


def serve(api: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``tokenctl serve API`` on 127.0.0.1 with ``env`` on top of a clean environment."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VAULT_", "AUTHZ_", "CRYPTO_", "REDIS_", "PROMETHEUS_"))
    }
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "tokenctl"),
            "serve",
            api,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env={**base, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (uvicorn stops its workers), then SIGKILL after 20 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _stat(pid: int) -> list[str]:
    # Fields after the command name, which may hold spaces: field 3 (state) is index 0.
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def worker_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """The processes that serve requests: uvicorn's spawned workers, or the server itself
    when it runs a single worker in-process."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int(_stat(int(entry.name))[1]) != server.pid:
                continue
            cmdline = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if b"spawn_main" in cmdline:  # not multiprocessing's resource tracker
            workers.append(int(entry.name))
    return sorted(workers) or [server.pid]


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` (``VmRSS``) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process used so far."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def busy_seconds() -> float:
    """CPU time the whole machine spent busy so far (all cores; ``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / _CLOCK_TICKS
