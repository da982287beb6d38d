"""The benchmarks' load tool sends a different body per request when asked to (the identify
benchmark's "distinct tokens" rests on it): real wrk against a real local HTTP server."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from benchmarks._wrk import run_wrk_bodies


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies: ClassVar[Counter[bytes]] = Counter()
    authorizations: ClassVar[Counter[str]] = Counter()
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.bodies[body] += 1
            self.authorizations[self.headers.get("Authorization", "")] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_each_request_carries_another_line_until_all_were_sent(tmp_path: Path) -> None:
    """Every body sent is a line of the file, none twice while lines remain; once the file
    is used up they start over (wrk's result then counts more requests than lines)."""
    lines = [f'{{"n": {n}}}' for n in range(300)]
    bodies = tmp_path / "bodies.txt"
    bodies.write_text("".join(f"{line}\n" for line in lines))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        result = run_wrk_bodies(url, bodies, "application/json", seconds=1, connections=2)
    finally:
        server.shutdown()
        server.server_close()
    seen = _Recorder.bodies
    assert set(seen) <= {line.encode() for line in lines}
    assert result.requests > len(lines)  # a local server answers thousands a second
    assert len(seen) == len(lines)  # every line was sent
    # Each of wrk's two threads takes every other line, in turn: within a thread's share, no
    # line is sent twice before all others were sent once (the threads' speeds differ).
    for share in (lines[0::2], lines[1::2]):
        counts = sorted(seen[line.encode()] for line in share)
        assert counts[-1] - counts[0] <= 1, counts


def test_headers_go_with_every_body(tmp_path: Path) -> None:
    """The encrypt benchmark's bearer rides on every request, whichever body it carries."""
    bodies = tmp_path / "bodies.txt"
    bodies.write_text("".join(f'{{"n": {n}}}\n' for n in range(50)))
    _Recorder.authorizations.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        run_wrk_bodies(
            url,
            bodies,
            "application/json",
            seconds=1,
            connections=2,
            headers={"Authorization": "Bearer b-1"},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert set(_Recorder.authorizations) == {"Bearer b-1"}
