"""Distinct, freshly signed ES256 tokens for the load runs, signed on every core.

Each benchmark sends every request a token of its own (DESIGN §12): nothing on either side
may answer from a cache keyed on the token.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

from joserfc import jws

from tests.support.tokens import private_key

__all__ = ["sign_many", "write_lines"]


def _sign_share(job: tuple[int, int, dict[str, Any]]) -> list[str]:
    start, count, payload = job
    key = private_key("ec-p256")
    out = []
    for n in range(start, start + count):
        claims = {
            key_: (value.format(n=n) if isinstance(value, str) else value)
            for key_, value in payload.items()
        }
        out.append(
            jws.serialize_compact(
                {"alg": "ES256"},
                json.dumps(claims, separators=(",", ":")),
                key,
                algorithms=["ES256"],
            )
        )
    return out


def sign_many(count: int, payload: dict[str, Any], *, first: int = 0) -> list[str]:
    """``count`` ES256 JWSs (key ``ec-p256``, header ``{"alg":"ES256"}``) of ``payload``,
    where ``{n}`` in a string value is the token's number (``"sub": "p{n}"``): all distinct.
    ``exp`` is two hours ahead unless given."""
    payload = {"exp": int(time.time()) + 7200, **payload}
    processes = max(1, len(os.sched_getaffinity(0)))
    size = -(-count // processes)
    jobs = [
        (first + i * size, min(size, count - i * size), payload)
        for i in range(processes)
        if count - i * size > 0
    ]
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        return [token for share in pool.map(_sign_share, jobs) for token in share]


def write_lines(path: Path, lines: list[str]) -> Path:
    """Write one body per line (wrk's cycling script reads them)."""
    path.write_text("".join(f"{line}\n" for line in lines))
    return path
