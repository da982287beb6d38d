"""The app factories ``tokenctl serve`` hands uvicorn: each builds the API in its worker
process, then settles the garbage collector for serving.

CPython's collector ran every 700 net new container objects: with 32 requests in flight a
worker collected young objects (and, each tenth time, older ones) many times a request,
about a twentieth of its CPU (issue 17). Once the app is built, what it holds (modules,
routes, Litestar's handler tables: hundreds of thousands of objects) lives as long as the
process, so it is frozen out of every collection (``gc.freeze``); young collections wait
for :data:`YOUNG_THRESHOLD` new objects. Garbage cycles are still collected, in larger
and rarer passes; reference counting frees everything else at once, as before.
"""

from __future__ import annotations

import gc
import importlib
from typing import Any, Final

__all__ = ["YOUNG_THRESHOLD", "authz", "crypto", "player", "settle_gc"]

YOUNG_THRESHOLD: Final = 20_000


def settle_gc() -> None:
    """Collect once, freeze what survives, and raise the young generation's threshold."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def _built(module: str) -> Any:
    app = importlib.import_module(module).create_app()
    settle_gc()
    return app


def authz() -> Any:
    """The Authorization API, for a serving worker."""
    return _built("authz_api.app")


def crypto() -> Any:
    """The Crypto API, for a serving worker."""
    return _built("crypto_api.app")


def player() -> Any:
    """The campaign player, for a serving worker."""
    return _built("player.app")
