"""Our reading of compose.yaml interpolates variables exactly as Compose does."""

from __future__ import annotations

import pytest

from tests.support.compose import MissingVariable, interpolate


def test_interpolation_follows_compose() -> None:
    """Defaults, nested defaults, required variables and ``$$`` resolve as compose does."""
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET}-${UNSET:-d}-${EMPTY:-d}-${EMPTY-d}", env) == "v-d-d-"
    assert interpolate("${A:-http://h:${P:-81}}/x", env) == "http://h:81/x"
    assert interpolate("$${NOT_A_VARIABLE} $$x", env) == "${NOT_A_VARIABLE} $x"
    with pytest.raises(MissingVariable, match="UNSET: say so"):
        interpolate("${UNSET:?say so}", env)
