"""The ``profile.updated`` event: what a participant changed in the prefilled form.

The body follows the Standard Webhooks payload shape (``type``, ``timestamp``, ``data``);
its ``data.id`` is also the ``webhook-id`` header, the same on every retry, so a receiver
can drop duplicates (delivery is at least once).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Literal

import msgspec

from shared.identity.prefill import FieldValue

__all__ = ["ProfileChange", "ProfileUpdated", "ProfileUpdatedData", "Queued", "profile_updated"]


class ProfileChange(msgspec.Struct, frozen=True):
    """A prefilled field's value before and after the participant's change."""

    old: FieldValue
    new: FieldValue


class ProfileUpdatedData(msgspec.Struct, frozen=True, kw_only=True):
    """Who changed what, where and when."""

    id: str
    account: str
    campaign: str
    sub: str
    changes: dict[str, ProfileChange]
    time: str


class ProfileUpdated(msgspec.Struct, frozen=True, kw_only=True):
    """The event's body (Standard Webhooks: ``type``, ``timestamp``, ``data``)."""

    type: Literal["profile.updated"] = "profile.updated"
    timestamp: str
    data: ProfileUpdatedData


class Queued(msgspec.Struct, frozen=True, kw_only=True):
    """An event in the outbox: its body as it will be sent, and its delivery history."""

    id: str
    account: str
    #: When it was accepted (seconds since the epoch): it is parked once old enough.
    first_at: float
    attempts: int = 0
    body: str
    #: Why it was parked (the last failure, in our words), once it is.
    reason: str | None = None

    def __repr__(self) -> str:
        # The body holds profile values: never in a log or a traceback.
        return f"Queued(id={self.id!r}, account={self.account!r}, attempts={self.attempts})"


def _rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def profile_updated(
    *,
    account: str,
    campaign: str,
    sub: str,
    changes: dict[str, ProfileChange],
    at: float,
) -> Queued:
    """A new ``profile.updated`` event for the outbox (a fresh id)."""
    event_id = "msg_" + secrets.token_urlsafe(18)
    when = _rfc3339(at)
    body = ProfileUpdated(
        timestamp=when,
        data=ProfileUpdatedData(
            id=event_id, account=account, campaign=campaign, sub=sub, changes=changes, time=when
        ),
    )
    return Queued(
        id=event_id, account=account, first_at=at, body=msgspec.json.encode(body).decode()
    )
