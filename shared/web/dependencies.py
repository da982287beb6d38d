"""The services an app's handlers receive, as Litestar dependencies.

Handlers declare what they need as typed parameters (``service: TokenService``); the app
factory provides one instance of each by name, and a test replaces any of them by passing
``overrides`` to ``create_app`` (an exploding stand-in, a fake clock), never by poking the
app's state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias, TypeVar

from litestar.di import NamedDependency, Provide
from litestar.params import SkipValidation

__all__ = ["Injected", "provide"]

T = TypeVar("T")
#: A handler parameter the app provides by its name. Not validated: it does not come from
#: the request, so checking it would cost a conversion per request for nothing (and refuse
#: the stand-ins tests pass as overrides).
Injected: TypeAlias = NamedDependency[SkipValidation[T]]


def provide(
    services: Mapping[str, object], overrides: Mapping[str, object] | None = None
) -> dict[str, Provide]:
    """A provider for each of ``services`` by name, ``overrides`` replacing some.

    Raises:
        KeyError: an override names no service (a typo would silently test the real one).
    """
    unknown = set(overrides or {}) - set(services)
    if unknown:
        raise KeyError(f"no such service to override: {sorted(unknown)}")
    chosen = {**services, **(overrides or {})}
    return {
        name: Provide(_constant(value), use_cache=True, sync_to_thread=False)
        for name, value in chosen.items()
    }


def _constant(value: object) -> Callable[[], object]:
    def provided() -> object:
        return value

    return provided
