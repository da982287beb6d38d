"""Lazy package faces (PEP 562): a face lists its names and where each is defined, and a
name's module is imported on first use, so importing one module of a part does not load
all of the part (``shared.client`` must not pay for the verifier; an issuer backend that
imports ``shared.server.oauth_error`` must not load the token service)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["face"]


def face(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose public ``names`` map to
    the module defining each. A looked-up name is kept on the package, so it is imported
    once and later look-ups are plain attribute reads."""

    def attribute(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def listing() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return attribute, listing
