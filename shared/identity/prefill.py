"""Turning a verified token's claims (or a profile API's answer) into form fields.

The default mapping is the platform's: each member of ``profile``, ``form`` and ``optin``
fills the field of its own name (``profile`` first, then ``form``, then ``optin``, so an
explicit form value wins over a profile one); the account's ``prefill`` entries come on top
and win for their field. Only scalars are used: an object or a list where a field's value
should be is skipped, never shown as ``[object Object]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from shared.identity.player_settings import FIELD_NAME_PATTERN

__all__ = ["DEFAULT_SOURCES", "MAX_VALUE_CHARS", "FieldValue", "field_value", "prefill"]

FieldValue = str | bool
#: The data objects whose members fill fields of their own name by default, in order.
DEFAULT_SOURCES: Final = ("profile", "form", "optin")
#: Longer values are not a participant's name or e-mail address: skipped, not truncated.
MAX_VALUE_CHARS: Final = 1000
_FIELD = re.compile(FIELD_NAME_PATTERN)


def field_value(raw: object) -> FieldValue | None:
    """A claim as a form field's value: a scalar, not too long; None to skip it."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        text = str(raw)
    elif isinstance(raw, str):
        text = raw
    else:
        return None
    return text if len(text) <= MAX_VALUE_CHARS else None


def _lookup(claims: Mapping[str, Any], path: str) -> object:
    node: object = claims
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def prefill(claims: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, FieldValue]:
    """The form's prefilled fields from ``claims`` with the account's ``mapping``
    (claim path -> field name) on top of the default one."""
    fields: dict[str, FieldValue] = {}
    for source in DEFAULT_SOURCES:
        data = claims.get(source)
        if not isinstance(data, Mapping):
            continue
        for name, raw in data.items():
            value = field_value(raw)
            if value is not None and isinstance(name, str) and _FIELD.match(name):
                fields[name] = value
    for path, field in mapping.items():
        value = field_value(_lookup(claims, path))
        if value is not None:
            fields[field] = value
    return fields
