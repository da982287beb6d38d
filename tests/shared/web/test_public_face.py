"""The public face of ``shared.web``: an honest, sorted ``__all__``, and a package the
player's ``import shared`` never loads."""

from __future__ import annotations

import subprocess
import sys

import pytest

import shared.web


def test_all_is_sorted_and_unique() -> None:
    """``shared.web.__all__`` is sorted and lists each name once."""
    assert list(shared.web.__all__) == sorted(set(shared.web.__all__))


@pytest.mark.parametrize("name", shared.web.__all__, ids=str)
def test_every_exported_name_exists(name: str) -> None:
    """Every name in ``__all__`` is an attribute of the package."""
    assert getattr(shared.web, name, None) is not None


def test_import_shared_loads_no_web_kit() -> None:
    """``import shared`` (the player's verification) loads neither litestar nor
    ``shared.web``."""
    code = (
        "import sys, shared; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'litestar' "
        "or m.startswith('shared.web')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == "[]"
