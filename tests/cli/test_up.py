"""`tokenctl up` refuses to start over a busy port, naming it, and leaves nothing running."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from shared.cli import main
from tests.openbao import free_port


@pytest.mark.parametrize("flag", ["--vault-port", "--authz-port", "--crypto-port"])
def test_busy_port_is_named_and_nothing_starts(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A port in use (another stack, say) is a one-line error with exit code 4."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = {
            "--vault-port": str(free_port()),
            "--authz-port": str(free_port()),
            "--crypto-port": str(free_port()),
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
    assert not (tmp_path / "data" / "openbao.log").exists()
