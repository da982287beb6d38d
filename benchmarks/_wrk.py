"""The load tool of the benchmarks: wrk (Debian package), one POST body, parsed results.

Every HTTP benchmark drives both sides (ours and OpenBao's peer) through :func:`run_wrk`,
so they share the load tool, its threads and its connection count.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WrkResult", "run_wrk", "run_wrk_bodies", "wrk_binary"]

#: wrk's threads; the machine has 2 cores, shared with the servers under test.
THREADS = 2


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and what went wrong."""

    rps: float
    p50: float
    p99: float
    non2xx: int
    requests: int
    socket_errors: int


def wrk_binary() -> str:
    """The ``wrk`` on PATH; installed with apt-get when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
        return "wrk"
    sys.exit("wrk is required: apt-get install wrk")


def _lua(body: str, content_type: str, headers: dict[str, str]) -> str:
    # JSON string literals of ASCII text are valid Lua string literals.
    if not body.isascii():
        raise ValueError("wrk bodies must be ASCII")
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    for name, value in {"Content-Type": content_type, **headers}.items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def _lua_cycling(
    bodies: Path, content_type: str, threads: int, headers: dict[str, str] | None = None
) -> str:
    # Each wrk thread loads the file and takes every `threads`-th line from its own offset:
    # no two requests of a run send the same body until the file is used up.
    fields = {"Content-Type": content_type, **(headers or {})}
    table = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in fields.items())
    return f"""\
local threads = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
function init(args)
  bodies = {{}}
  for line in io.lines({json.dumps(str(bodies))}) do bodies[#bodies + 1] = line end
  index = offset + 1
  headers = {{{table}}}
end
function request()
  local body = bodies[index]
  index = index + threads_total
  if index > #bodies then index = offset + 1 end
  return wrk.format("POST", nil, headers, body)
end
threads_total = {threads}
"""


def run_wrk_bodies(
    url: str,
    bodies: Path,
    content_type: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """POST the lines of ``bodies`` to ``url``, a different one per request, for ``seconds``
    over ``connections`` keep-alive connections (they repeat only once all were sent)."""
    lua = _lua_cycling(bodies, content_type, min(THREADS, connections), headers)
    return _run(lua, url, seconds, connections)


def run_wrk(
    url: str,
    body: str,
    content_type: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """POST ``body`` to ``url`` for ``seconds`` over ``connections`` keep-alive connections."""
    return _run(_lua(body, content_type, headers or {}), url, seconds, connections)


def _run(lua: str, url: str, seconds: float, connections: int) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        out = subprocess.run(
            [
                wrk_binary(),
                f"-t{min(THREADS, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        Path(script.name).unlink()
    return parse(out)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _search(pattern: str, out: str) -> str:
    found = re.search(pattern, out)
    if found is None:
        sys.exit(f"unexpected wrk output (no {pattern!r}):\n{out}")
    return found.group(1)


def parse(out: str) -> WrkResult:
    """Read wrk's ``--latency`` report."""
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        rps=float(_search(r"Requests/sec:\s+([\d.]+)", out)),
        p50=_ms(_search(r"\s50%\s+(\S+)", out)),
        p99=_ms(_search(r"\s99%\s+(\S+)", out)),
        non2xx=int(non2xx.group(1)) if non2xx else 0,
        requests=int(_search(r"(\d+) requests in", out)),
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )
