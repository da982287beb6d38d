"""Attack clients in their own process (``python -m tests.support.faults.attacker SPEC``): as real
attackers are, outside the service's process and its GIL. SPEC is JSON: ``{"seconds",
"pause", "calls": [{"kind", "clients", "url", "data" | "json", "headers"}]}``; prints one JSON
line per answer kind: statuses, Retry-After present, detail texts, slowest and fastest."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import httpx


def _client(call: dict[str, Any], until: float, pause: float, out: list[dict[str, Any]]) -> None:
    with httpx.Client(timeout=20) as http:
        while time.monotonic() < until:
            start = time.monotonic()
            try:
                response = http.post(
                    call["url"],
                    data=call.get("data"),
                    json=call.get("json"),
                    headers=call.get("headers", {}),
                )
                status, retry, body = (
                    response.status_code,
                    "Retry-After" in response.headers,
                    (response.text[:300]),
                )
            except httpx.HTTPError as exc:
                status, retry, body = 0, False, type(exc).__name__
            out.append(
                {
                    "kind": call["kind"],
                    "status": status,
                    "retry_after": retry,
                    "seconds": time.monotonic() - start,
                    "body": body,
                }
            )
            time.sleep(pause)


def main() -> None:
    spec = json.loads(sys.argv[1])
    until = time.monotonic() + spec["seconds"]
    out: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=_client, args=(call, until, spec["pause"], out), daemon=True)
        for call in spec["calls"]
        for _ in range(call["clients"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
