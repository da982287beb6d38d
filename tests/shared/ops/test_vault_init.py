"""Initialise-and-unseal of a real OpenBao with Raft storage on disk (the `tokenctl up`
path): first start initialises, later starts unseal, and every failure is named."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import requests
import rich.pretty

from shared import ConfigurationError, Settings, Vault, VaultSealed, VaultUnavailable
from shared.ops.devstack import Ports, openbao_config
from shared.ops.vault_init import INIT_FILE, InitMaterial, init_and_unseal
from tests.support.openbao import DevServer, bao_binary, free_port


@pytest.fixture
def raft_bao(tmp_path: Path) -> Iterator[tuple[Vault, Path]]:
    """A fresh, uninitialised OpenBao with Raft storage under ``tmp_path``."""
    port = free_port()
    (tmp_path / "openbao").mkdir()
    config = tmp_path / "openbao.hcl"
    config.write_text(openbao_config(tmp_path, Ports(vault=port, authz=0, crypto=0)))
    proc = subprocess.Popen(
        [bao_binary(), "server", f"-config={config}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    addr = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(f"{addr}/v1/sys/health", timeout=1)
                break
            except requests.RequestException:
                assert proc.poll() is None, "bao exited"
                time.sleep(0.05)
        yield Vault(Settings(vault_addr=addr)), tmp_path
    finally:
        proc.terminate()
        proc.wait(20)


def seal(vault: Vault, within: float = 10.0) -> None:
    """Seal, once the freshly unsealed Raft node has become active: until it has elected
    itself, OpenBao answers sys/seal with a 500 ("internal error")."""
    deadline = time.monotonic() + within
    while True:
        try:
            vault._call(vault._client.sys.seal)
            return
        except VaultUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_first_start_initialises_then_later_starts_unseal(raft_bao: tuple[Vault, Path]) -> None:
    """A new Vault is initialised (material 0600) and unsealed; once sealed again, the
    stored key unseals it; an unsealed Vault is left alone."""
    vault, data = raft_bao
    first = init_and_unseal(vault, data / "init")
    assert (first.initialized, first.unsealed) == (True, True)
    material = data / "init" / INIT_FILE
    assert oct(material.stat().st_mode & 0o777) == "0o600"
    token = (data / "init" / "root-token").read_text().strip()
    assert token == msgspec.json.decode(material.read_bytes(), type=InitMaterial).root_token
    decoded = msgspec.json.decode(material.read_bytes(), type=InitMaterial)
    assert token not in repr(decoded)
    assert token not in rich.pretty.pretty_repr(decoded)
    assert vault.seal_status() == (True, False)

    assert init_and_unseal(vault, data / "init").unsealed is False  # nothing to do

    rooted = Vault(Settings(vault_addr=vault.settings.vault_addr, vault_token=token))
    seal(rooted)
    assert vault.seal_status() == (True, True)
    again = init_and_unseal(vault, data / "init")
    assert (again.initialized, again.unsealed) == (False, True)


def test_a_wrong_unseal_key_is_vault_sealed(raft_bao: tuple[Vault, Path]) -> None:
    """Material whose key does not open this Vault: VaultSealed, not a crash."""
    vault, data = raft_bao
    init_and_unseal(vault, data / "a")
    token = (data / "a" / "root-token").read_text().strip()
    rooted = Vault(Settings(vault_addr=vault.settings.vault_addr, vault_token=token))
    seal(rooted)
    wrong = InitMaterial(unseal_keys_b64=["A" * 43 + "="], root_token="x")
    (data / "a" / INIT_FILE).write_bytes(msgspec.json.encode(wrong))
    with pytest.raises(VaultSealed, match=r"did not unseal Vault: .*invalid key"):
        init_and_unseal(vault, data / "a")


def test_initialised_elsewhere_is_a_configuration_error(
    private_bao: DevServer, tmp_path: Path
) -> None:
    """An initialised Vault without our material (another data dir) is named, not guessed."""
    vault = Vault(Settings(vault_addr=private_bao.addr))
    with pytest.raises(ConfigurationError, match="initialised from another data dir"):
        init_and_unseal(vault, tmp_path)
