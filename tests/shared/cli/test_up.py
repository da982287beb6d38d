"""`tokenctl up` refuses to start over a busy port, naming it, and leaves nothing running."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from shared.cli import main
from shared.ops.private_files import write_private
from tests.support.openbao import free_port, vault_port_pair


@pytest.mark.parametrize("flag", ["--vault-port", "--authz-port", "--crypto-port", "--player-port"])
def test_busy_port_is_named_and_nothing_starts(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A port in use (another stack, say) is a one-line error with exit code 4."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = {
            "--vault-port": str(vault_port_pair()),
            "--authz-port": str(free_port()),
            "--crypto-port": str(free_port()),
            "--player-port": str(free_port()),
            flag: str(port),
        }
        argv = ["up", "--data-dir", str(tmp_path / "data")]
        for name, value in ports.items():
            argv += [name, value]
        with pytest.raises(SystemExit) as exited:
            main(argv)
    assert exited.value.code == 4
    err = capsys.readouterr().err
    assert f"CONFIGURATION_INVALID: port {port} for the" in err
    assert "in use" in err
    assert f"choose another with {flag} P" in err
    assert not (tmp_path / "data" / "openbao.log").exists()


@pytest.mark.parametrize(
    "argv",
    [["--vault-port", "65535"], ["--authz-port", "70000"], ["--crypto-port", "-1"]],
    ids=["vault-65535", "authz-70000", "crypto-negative"],
)
def test_impossible_ports_are_usage_errors(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A port out of range is exit 2 with a one-line reason, not a traceback."""
    with pytest.raises(SystemExit) as exited:
        main(["up", "--data-dir", str(tmp_path / "d"), *argv])
    assert exited.value.code == 2
    assert "a port is 1 to" in capsys.readouterr().err


def test_a_shared_or_unusable_data_dir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory others may write to is refused, and left as it was (never chmod-ed); a
    data dir that is a file is a one-line error too."""
    shared_dir = tmp_path / "team"
    shared_dir.mkdir()
    shared_dir.chmod(0o1777)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for target, message in ((shared_dir, "writable by others"), (afile, "cannot use")):
        with pytest.raises(SystemExit) as exited:
            main(["up", "--data-dir", str(target), "--vault-port", str(vault_port_pair())])
        assert exited.value.code == 4
        assert message in capsys.readouterr().err
    assert oct(shared_dir.stat().st_mode & 0o7777) == "0o1777"


def test_a_data_dir_too_deep_for_redis_socket_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Redis listens on a Unix socket in the data dir, whose path must fit 107 bytes: a
    deeper dir is a one-line error naming the option, before OpenBao starts."""
    deep = tmp_path / ("d" * 120)
    argv = ["up", "--data-dir", str(deep), "--vault-port", str(vault_port_pair())]
    argv += ["--authz-port", str(free_port()), "--crypto-port", str(free_port())]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--player-port", str(free_port())])
    assert exited.value.code == 4
    err = capsys.readouterr().err
    assert "too long for Redis's socket" in err
    assert "choose a shorter --data-dir" in err
    assert not (deep / "openbao.log").exists()


def test_private_files_never_open_a_planted_temp_file(tmp_path: Path) -> None:
    """A file or link planted at a predictable temp name is not used: the secret lands
    0600 and the link's target is untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / ".root-token.tmp").symlink_to(victim)
    planted = tmp_path / ".secret.tmp"
    planted.write_text("")
    planted.chmod(0o666)
    write_private(tmp_path / "root-token", "s.root")
    write_private(tmp_path / "secret", "s3cr3t")
    assert victim.read_text() == "keep me"
    assert oct((tmp_path / "secret").stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "secret").read_text() == "s3cr3t"
