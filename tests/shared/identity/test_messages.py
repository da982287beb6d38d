"""Whether a campaign page speaks to its parent, and to which exact origin."""

from __future__ import annotations

import msgspec
import pytest

from shared.identity import MessageChannel, PlayerSettings, message_channel

SHOP = "https://shop.example"
BLOG = "https://blog.example"


def test_a_registered_parent_origin_is_spoken_to_exactly() -> None:
    settings = PlayerSettings(parent_origins=(SHOP, BLOG), message_wait=30)
    assert message_channel(settings, "campaign", BLOG) == MessageChannel(
        div_id="campaign", parent_origin=BLOG, wait_seconds=30
    )


def test_a_single_registered_origin_is_taken_when_the_loader_names_none() -> None:
    assert message_channel(PlayerSettings(parent_origins=(SHOP,)), "c", None) == (
        MessageChannel(div_id="c", parent_origin=SHOP, wait_seconds=120)
    )


@pytest.mark.parametrize(
    ("origins", "div_id", "parent"),
    [
        ((), "campaign", SHOP),  # no parent origins: the campaign does not speak
        ((SHOP, BLOG), "campaign", None),  # which one? not guessed
        ((SHOP,), "campaign", "https://evil.example"),
        ((SHOP,), "campaign", "https://shop.example/"),  # exact strings only
        ((SHOP,), "campaign", "HTTPS://SHOP.EXAMPLE"),
        ((SHOP,), "campaign", "*"),
        ((SHOP,), None, SHOP),
        ((SHOP,), "", SHOP),
        ((SHOP,), "1campaign", SHOP),
        ((SHOP,), 'c"><script>', SHOP),
        ((SHOP,), "c" * 101, SHOP),
    ],
    ids=[
        "no-origins",
        "ambiguous",
        "unregistered",
        "trailing-slash",
        "case",
        "wildcard",
        "no-div",
        "empty-div",
        "digit-first",
        "markup",
        "long-div",
    ],
)
def test_otherwise_the_campaign_stays_silent(
    origins: tuple[str, ...], div_id: str | None, parent: str | None
) -> None:
    assert message_channel(PlayerSettings(parent_origins=origins), div_id, parent) is None


@pytest.mark.parametrize("wait", [0, 901, -1])
def test_the_wait_is_bounded(wait: int) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"message_wait": wait}, PlayerSettings)
