"""A serving worker builds its app, then settles its collector (in a fresh interpreter:
freezing this test process's objects would outlive the test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_a_worker_freezes_its_app_and_collects_young_objects_less_often() -> None:
    code = (
        "import gc, json\n"
        "from shared.cli import _workers\n"
        "app = _workers.crypto()\n"
        "print(json.dumps({'threshold': gc.get_threshold(), 'frozen': gc.get_freeze_count(),"
        " 'app': type(app).__name__}))\n"
    )
    env = {
        "VAULT_ADDR": "http://127.0.0.1:9",
        "AUTHZ_ISSUER": "http://127.0.0.1:9",
        "AUTHZ_JWKS_URL": "http://127.0.0.1:9/jwks",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
        env=env,
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["app"] == "Litestar"
    assert seen["threshold"][0] == _young_threshold()
    # The app's own objects (routes, handlers, modules) are out of every collection.
    assert seen["frozen"] > 50_000


def _young_threshold() -> int:
    from shared.cli._workers import YOUNG_THRESHOLD  # noqa: PLC0415 - no import side effect

    return YOUNG_THRESHOLD
