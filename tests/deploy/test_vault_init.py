"""deploy/openbao.hcl runs on the real ``bao``, and vault-init's script initialises, unseals
and bootstraps it, with the compose volumes played by directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from shared.settings import Settings
from tests.support.compose import (
    ROOT,
    SERVICES,
    TEST_ENV,
    healthcheck_argv,
    interpolate,
    load_compose,
    service_environment,
    unescape,
)
from tests.support.images import our_image, run_argv
from tests.support.openbao import bao_binary, free_port


def _host_paths(service: Mapping[str, Any], volumes: Mapping[str, Path]) -> dict[str, Path]:
    """Mount target -> host path: the repo file for a bind mount, a directory per volume."""
    paths = {}
    for mount in service.get("volumes", []):
        source, target = mount.split(":")[:2]
        paths[target] = ROOT / source if source.startswith(".") else volumes[source]
    return paths


def _relocate(text: str, paths: Mapping[str, Path], hosts: Mapping[str, str]) -> str:
    for target in sorted(paths, key=len, reverse=True):
        text = text.replace(target, str(paths[target]))
    for host, replacement in hosts.items():
        text = text.replace(host, replacement)
    return text


def _replace_all(text: str, replacements: Mapping[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"deploy/openbao.hcl no longer has {old!r}: update this test"
        text = text.replace(old, new)
    return text


def _host_env(extra: Mapping[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"
    return {**base, **extra}


def _run(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: PLW1510 - callers check the code with its output
        argv, env=dict(env), capture_output=True, text=True, timeout=60
    )


def test_vault_init_bootstraps_openbao_from_the_deploy_config(tmp_path: Path) -> None:
    """deploy/openbao.hcl runs on the real bao; its healthcheck passes while uninitialised;
    vault-init's script (run twice) initialises, unseals and bootstraps it, and each API's
    credentials (the player's too) log in with that service's policy only."""
    volumes = {name: tmp_path / name for name in load_compose()["volumes"]}
    for directory in volumes.values():
        directory.mkdir(mode=0o700)
    port, cluster_port = free_port(), free_port()
    addr = f"http://127.0.0.1:{port}"
    hosts = {"http://openbao:8200": addr}

    openbao = SERVICES["openbao"]
    paths = _host_paths(openbao, volumes)
    config = _replace_all(
        paths["/openbao/config/openbao.hcl"].read_text("utf-8"),
        {
            '"/openbao/file"': json.dumps(str(paths["/openbao/file"])),
            "0.0.0.0:8200": f"127.0.0.1:{port}",
            "openbao:8200": f"127.0.0.1:{port}",
            "openbao:8201": f"127.0.0.1:{cluster_port}",
        },
    )
    (tmp_path / "openbao.hcl").write_text(config)
    server = subprocess.Popen(
        [bao_binary(), "server", f"-config={tmp_path / 'openbao.hcl'}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_host_env({}),
    )
    try:
        health = unescape(healthcheck_argv(openbao))
        health = [a.replace("127.0.0.1:8200", f"127.0.0.1:{port}") for a in health]
        deadline = time.monotonic() + 30
        while _run(health, _host_env({})).returncode != 0:
            assert server.poll() is None, "bao server exited: is deploy/openbao.hcl valid?"
            assert time.monotonic() < deadline, "the openbao healthcheck never passed"
            time.sleep(0.2)
        assert requests.get(f"{addr}/v1/sys/health", timeout=5).status_code == 501  # uninit

        init = SERVICES["vault-init"]
        init_paths = _host_paths(init, volumes)
        argv = [_relocate(a, init_paths, hosts) for a in unescape(run_argv(init, our_image()))]
        env = {
            k: _relocate(interpolate(v, TEST_ENV), {}, hosts)
            for k, v in service_environment(init).items()
        }
        for attempt in ("first", "again"):
            done = _run(argv, _host_env(env))
            assert done.returncode == 0, f"vault-init ({attempt}): {done.stdout}{done.stderr}"
        assert requests.get(f"{addr}/v1/sys/health", timeout=5).status_code == 200
        assert _run(health, _host_env({})).returncode == 0

        for api in ("authz-api", "crypto-api", "player"):
            service = SERVICES[api]
            api_paths = _host_paths(service, volumes)
            api_env = {
                k: _relocate(interpolate(v, TEST_ENV), api_paths, hosts)
                for k, v in service_environment(service).items()
            }
            for key in ("VAULT_ROLE_ID_FILE", "VAULT_SECRET_ID_FILE"):
                assert Path(api_env[key]).is_file(), f"{api}: vault-init wrote no {key}"
                assert Path(api_env[key]).stat().st_mode & 0o777 == 0o600, key
            settings = Settings.from_env(api_env)
            login = requests.post(
                f"{addr}/v1/auth/approle/login",
                json={"role_id": settings.vault_role_id, "secret_id": settings.vault_secret_id},
                timeout=5,
            )
            assert login.status_code == 200, f"{api}: {login.text}"
            assert set(login.json()["auth"]["token_policies"]) - {"default"} == {api}
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
