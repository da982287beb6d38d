"""README step 1 works as written: scripts/up brings up OpenBao, the demo account and the
Authorization and Crypto APIs, and the printed walkthrough (sign → exchange → encrypt →
verify) succeeds
from a shell; Ctrl-C stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.openbao import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_scripts_up_and_walkthrough(tmp_path: Path) -> None:
    """The walkthrough printed by scripts/up verifies a sealed demo token, then SIGINT stops."""
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env.update(
        DATA_DIR=str(data),
        VAULT_PORT=str(free_port()),
        AUTHZ_PORT=str(free_port()),
        CRYPTO_PORT=str(free_port()),
    )
    up = subprocess.Popen(
        [str(ROOT / "scripts" / "up")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert up.stdout is not None
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Stack is up"):
                break
        output = "".join(lines)
        assert "Stack is up" in output, output
        walkthrough = [ln.strip() for ln in lines if ln.startswith("  ")]
        script = "set -e\n" + "\n".join(walkthrough).replace("\\\n", "")
        result = subprocess.run(
            ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        assert "valid JWE (key version 1) ES256: sub=participant-42" in result.stdout
        assert "rotated demo: new JWEs use version 2" in result.stdout
        assert oct((data / "root-token").stat().st_mode & 0o777) == "0o600"
        assert oct((data / "demo-es256-private.pem").stat().st_mode & 0o777) == "0o600"
    finally:
        os.killpg(up.pid, signal.SIGINT)
        rest, _ = up.communicate(timeout=30)
    assert up.returncode == 0
    assert "stopped." in rest
