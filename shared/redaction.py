"""A Struct base whose secret fields never show in ``repr`` (logs, tracebacks) or in
``rich``'s pretty printing (``__rich_repr__``, which msgspec Structs provide by default)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import msgspec

__all__ = ["Redacted"]


class Redacted(msgspec.Struct, frozen=True):
    """Subclasses name their secret fields in ``__secret_fields__``."""

    __secret_fields__: ClassVar[frozenset[str]] = frozenset()

    def _shown(self) -> Iterator[tuple[str, Any]]:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            hidden = name in self.__secret_fields__ and value is not None
            yield name, "<redacted>" if hidden else value

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={value}" if value == "<redacted>" else f"{name}={value!r}"
            for name, value in self._shown()
        )
        return f"{type(self).__name__}({fields})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return list(self._shown())
