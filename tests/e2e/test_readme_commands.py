"""README step 1 works as written: scripts/up (`tokenctl up`) brings up OpenBao on disk,
Redis, the demo account and its campaign, both APIs and the player; the printed walkthrough
(sign → exchange → encrypt → verify) succeeds from a shell, and the URL it ends with shows
the prefilled form in Chromium; Ctrl-C stops it cleanly; a second start keeps accounts,
keys and participations."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.browser import offline_chromium
from tests.support.openbao import free_port, vault_port_pair

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def scripts_up(env: dict[str, str], stop: int = signal.SIGINT) -> Iterator[list[str]]:
    """Run scripts/up until it prints "Stack is up"; yield its lines; signal it after."""
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
        assert any(ln.startswith("Stack is up") for ln in lines), "".join(lines)
        yield lines
    finally:
        # As a Ctrl-C at the terminal: the signal reaches `up`'s process group only; it
        # stops the APIs and OpenBao itself.
        os.killpg(up.pid, stop)
        rest, _ = up.communicate(timeout=60)
    assert up.returncode == 0, rest
    assert "stopped." in rest


def _bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def _service_environments(data: Path) -> list[dict[str, str]]:
    """The environments of processes started for this data dir's APIs."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            raw = (proc / "environ").read_bytes()
        except OSError:
            continue
        items = dict(
            item.split("=", 1) for item in raw.decode("utf-8", "replace").split("\0") if "=" in item
        )
        if items.get("VAULT_ROLE_ID_FILE", "").startswith(str(data)):
            found.append(items)
    return found


def _mode(path: Path) -> str:
    return oct(path.stat().st_mode & 0o777)


def test_up_walkthrough_and_restart(tmp_path: Path) -> None:
    """The printed walkthrough gets a JWE that `token verify` accepts; after a stop and a
    start the same JWE still verifies and the demo account is still there."""
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env.update(
        DATA_DIR=str(data),
        VAULT_PORT=str(vault_port_pair()),
        AUTHZ_PORT=str(free_port()),
        CRYPTO_PORT=str(free_port()),
        PLAYER_PORT=str(free_port()),
    )
    with scripts_up(env) as lines:
        walkthrough = [ln.strip() for ln in lines if ln.startswith("  ")]
        script = "set -e\n" + "\n".join(walkthrough).replace("\\\n", "")
        # Tokens and bearers never travel as command arguments (visible in `ps`): only the
        # shell's printf builtin is given them, and it feeds them to stdin.
        for segment in re.split(r"\||\$\(|\n", script):
            if re.search(r"\$(TOKEN|BEARER|JWE)\b", segment):
                assert segment.lstrip().startswith("printf "), segment
        # Pasted as is, plus one line of ours to keep the JWE for after the restart.
        result = _bash(script + '\necho "JWE=$JWE"', env)
        assert result.returncode == 0, result.stderr
        # Twice: the curl path, then `token encrypt` through both APIs in one command.
        assert result.stdout.count("valid JWE (key version 1) ES256: sub=participant-42") == 2
        jwe = result.stdout.rsplit("JWE=", 1)[1].strip()
        assert jwe.count(".") == 4
        # The walkthrough's last line: the player's page for that JWE, the form prefilled.
        opened = re.search(r"^Open in a browser: (\S+)$", result.stdout, re.MULTILINE)
        assert opened is not None, result.stdout
        url = opened.group(1)
        assert url == (f"http://127.0.0.1:{env['PLAYER_PORT']}/play/demo/1001?qual_token={jwe}")
        with offline_chromium() as chromium, chromium.page() as page:
            page.goto(url)
            assert page.locator("main").get_attribute("data-step") == "form"
            assert page.locator("input[name=firstname]").input_value() == "Ada"
            assert page.locator("input[name=lastname]").input_value() == "Lovelace"
            assert page.locator("input[name=email]").input_value() == "ada@example.com"
            page.locator("button[type=submit]").click()
            page.wait_for_selector("main[data-step=thanks]")
            assert page.locator("main").get_attribute("data-participations") == "1"

        # Least privilege: the APIs run with their AppRole files, never a Vault token.
        services = _service_environments(data)
        assert len(services) == 3, services
        for service_env in services:
            assert "VAULT_TOKEN" not in service_env
            assert service_env["VAULT_SECRET_ID_FILE"].endswith(
                ("authz-api.secret-id", "crypto-api.secret-id", "player.secret-id")
            )
            # Redis on a Unix socket in a 0700 folder: no port any local user could reach.
            assert service_env["REDIS_URL"] == f"unix://{data}/redis/redis.sock"
        assert _mode(data) == "0o700"
        assert _mode(data / "redis") == "0o700"
        for secret in ("openbao-init.json", "root-token", "demo-es256-private.pem"):
            assert _mode(data / secret) == "0o600", secret
        for role in ("admin", "authz-api", "crypto-api", "player"):
            assert _mode(data / "approle" / f"{role}.secret-id") == "0o600", role

    # Stopped this time by a closed terminal (SIGHUP): nothing may be left running.
    with scripts_up(env, stop=signal.SIGHUP):
        check = _bash(
            f"set -e\nsource {data}/env\ntokenctl accounts list\n"
            "tokenctl accounts create jwks-dev --method jwks --alg RS256 "
            "--jwks-uri http://127.0.0.1:9/jwks.json >/dev/null\n"
            f'tokenctl token verify --account demo --campaign 1001 "{jwe}"',
            env,
        )
        assert check.returncode == 0, check.stderr
        assert check.stdout.splitlines()[0] == "demo"
        assert "valid JWE (key version 1) ES256: sub=participant-42" in check.stdout
        # Redis kept its append-only file: the participation before the restart counts.
        with offline_chromium() as chromium, chromium.page() as page:
            page.goto(url)
            page.locator("button[type=submit]").click()
            page.wait_for_selector("main[data-step=thanks]")
            assert page.locator("main").get_attribute("data-participations") == "2"
    assert _service_environments(data) == []
