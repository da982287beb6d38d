"""The README's Crypto API section says what the API does with bearers (issue 13)."""

from __future__ import annotations

from pathlib import Path

from shared.server import bearer_check

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    text = README.read_text("utf-8")
    start = text.index(f"\n## {title}\n")
    return text[start : text.index("\n## ", start + 1)]


def test_readme_states_the_bearer_grace_after_exp() -> None:
    """The Crypto API section names the grace after a bearer's exp that the checker applies."""
    # The checker's private constant: the README must follow it if it changes.
    grace = bearer_check._LEEWAY
    assert f"until {grace} s after its `exp`" in _section("Crypto API")
