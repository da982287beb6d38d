"""Every part of ``shared/`` shows a short public face: a sorted ``__all__`` whose names
exist and are defined inside the part (a face re-exports its own modules, not others')."""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest

FACES = (
    "shared.tokens",
    "shared.accounts",
    "shared.vault",
    "shared.server",
    "shared.web",
    "shared.client",
    "shared.ops",
    "shared.keycloak",
)


def _face(name: str) -> ModuleType:
    return importlib.import_module(name)


def _isort_style(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("name", FACES)
def test_all_is_sorted_unique_and_short(name: str) -> None:
    """The face's ``__all__`` is in ruff's order, each name once, and short."""
    names = list(_face(name).__all__)
    assert names == sorted(names, key=_isort_style)
    assert len(set(names)) == len(names)
    assert 0 < len(names) <= 40


@pytest.mark.parametrize("name", FACES)
def test_every_name_exists_and_belongs_to_the_part(name: str) -> None:
    """Every exported class or function exists and is defined in the part."""
    face = _face(name)
    for exported in face.__all__:
        value = getattr(face, exported)
        if inspect.isclass(value) or inspect.isfunction(value):  # aliases and constants: no
            module = value.__module__
            assert module == name or module.startswith(f"{name}."), (exported, module)
