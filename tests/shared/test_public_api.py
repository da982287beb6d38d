"""The public face of ``shared``: an honest, sorted ``__all__`` and no web framework."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mypy.api
import pytest

import shared


def test_all_is_sorted_and_unique() -> None:
    """``shared.__all__`` is sorted and lists each name once."""
    assert list(shared.__all__) == sorted(shared.__all__)
    assert len(set(shared.__all__)) == len(shared.__all__)


@pytest.mark.parametrize("name", shared.__all__, ids=str)
def test_every_exported_name_exists(name: str) -> None:
    """Every name in ``__all__`` is an attribute of the package."""
    assert getattr(shared, name, None) is not None


def test_every_public_class_and_function_is_exported() -> None:
    """Every public non-module name the package holds is listed in ``__all__``."""
    for name in shared.__all__:  # the face imports on first use (PEP 562): load it all
        getattr(shared, name)
    public = {
        name
        for name, value in vars(shared).items()
        if not name.startswith("_")
        and not isinstance(value, type(shared))
        and name != "annotations"
    }
    assert public == set(shared.__all__)


def test_error_classes_carry_distinct_codes() -> None:
    """Every exported error has a code, and no two leaf errors of the tree share one."""
    errors = [
        value
        for name in shared.__all__
        if isinstance(value := getattr(shared, name), type)
        and issubclass(value, shared.ServiceError)
    ]
    assert all(e.code for e in errors)
    leaves = [e for e in errors if not any(o is not e and issubclass(o, e) for o in errors)]
    codes = [e.code for e in leaves]
    assert len(set(codes)) == len(codes)


def test_import_does_not_load_litestar() -> None:
    """``import shared`` (the player's import) pulls in no web framework."""
    result = subprocess.run(
        [sys.executable, "-c", "import shared, sys; assert 'litestar' not in sys.modules"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_import_reads_no_environment() -> None:
    """Importing ``shared`` with a broken Vault environment succeeds: nothing is read at import."""
    result = subprocess.run(
        [sys.executable, "-c", "import shared"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"VAULT_ADDR": "not a url", "VAULT_CLIENT_TIMEOUT": "soon", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr


def test_an_unknown_name_is_an_attribute_error() -> None:
    """The lazy face refuses what it does not hold, as a plain module would."""
    with pytest.raises(AttributeError, match="no attribute 'Verifyer'"):
        _ = shared.Verifyer  # type: ignore[attr-defined]


def test_the_players_import_works_in_a_fresh_interpreter() -> None:
    """``from shared import verify, Verifier, TokenError`` as the player writes it."""
    code = (
        "from shared import verify, Verifier, TokenError\n"
        "from shared.tokens.verification import Verifier as V\n"
        "assert Verifier is V and callable(verify) and issubclass(TokenError, Exception)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_type_checkers_see_the_lazy_face(tmp_path: Path) -> None:
    """mypy types the face's names and refuses a misspelt one (the lazy ``__getattr__`` is
    hidden from it, so it cannot turn every unknown name into ``object``)."""
    program = tmp_path / "player.py"
    program.write_text(
        "from shared import Verifier, Verifyer\nreveal_type(Verifier)\n", encoding="utf-8"
    )
    stdout, _, status = mypy.api.run(
        ["--config-file", "", "--strict", "--cache-dir", str(tmp_path / "cache"), str(program)]
    )
    assert status == 1, stdout
    assert 'Module "shared" has no attribute "Verifyer"' in stdout
    assert "shared.tokens.verification.Verifier" in stdout
