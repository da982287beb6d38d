"""A submitted form: checked against the form token that came with it, then counted.

The form token says who was identified, for which campaign, with what limit and what
prefill; the participant's browser can change the fields, never those. A participation is
recorded atomically with its entry (:class:`Participations`), so the limit holds across
workers and instances, and a form counts once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Annotated, Final

import msgspec

from shared.identity.errors import FormInvalid
from shared.identity.form_token import FormTokens
from shared.identity.participations import Participations
from shared.identity.player_settings import FIELD_NAME_PATTERN
from shared.identity.prefill import MAX_VALUE_CHARS, FieldValue
from shared.identity.webhooks.events import ProfileChange, profile_updated

__all__ = ["MAX_FIELDS", "FieldChange", "Submissions", "Submitted"]

#: More fields than any identification form has.
MAX_FIELDS: Final = 100
_FIELD = re.compile(FIELD_NAME_PATTERN)


class FieldChange(msgspec.Struct, frozen=True, array_like=True):
    """A prefilled field the participant changed: its value before and after."""

    old: FieldValue
    new: FieldValue


class Submitted(msgspec.Struct, frozen=True, kw_only=True):
    """An accepted participation."""

    account: str
    campaign: str
    subject: str
    participations: int
    limit: int | None
    fields: dict[str, str]
    changed: dict[str, FieldChange]


class _Entry(msgspec.Struct, frozen=True):
    sub: str
    at: Annotated[int, msgspec.Meta(ge=0)]
    fields: dict[str, str]


class Submissions:
    """Accept submitted forms."""

    def __init__(
        self,
        forms: FormTokens,
        participations: Participations,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._forms = forms
        self._participations = participations
        self._clock = clock

    async def submit(
        self,
        account: str,
        campaign: str,
        form_token: str,
        fields: Mapping[str, str],
        *,
        webhook: bool = False,
    ) -> Submitted:
        """Record the participation the form ``form_token`` came with; with ``webhook``
        (the account has one) and prefilled fields changed, queue ``profile.updated`` with
        it, atomically.

        Raises:
            FormInvalid: the token is not ours, expired, for another account or campaign,
                or the fields are malformed; ``FormUsed``: submitted already.
            ParticipationLimitReached: ``limit.nb`` is used up.
            VerificationUnavailable: Redis cannot be reached (nothing was recorded).
        """
        now = self._clock()
        claims = self._forms.open(form_token, account=account, campaign=campaign, now=now)
        checked = _fields(fields)
        entry = msgspec.json.encode(_Entry(sub=claims.sub, at=int(now), fields=checked))
        changed = {
            name: FieldChange(old=old, new=_submitted(old, checked.get(name)))
            for name, old in claims.prefill.items()
            if _submitted(old, checked.get(name)) != old
        }
        event = None
        if webhook and changed:
            queued = profile_updated(
                account=account,
                campaign=campaign,
                sub=claims.sub,
                changes={k: ProfileChange(old=c.old, new=c.new) for k, c in changed.items()},
                at=now,
            )
            event = msgspec.json.encode(queued)
        count = await self._participations.record(
            account,
            campaign,
            claims.sub,
            limit=claims.nb,
            form_id=claims.jti,
            ttl=claims.exp - int(now) + 60,
            entry=entry,
            event=event,
        )
        return Submitted(
            account=account,
            campaign=campaign,
            subject=claims.sub,
            participations=count,
            limit=claims.nb,
            fields=checked,
            changed=changed,
        )


def _submitted(old: FieldValue, new: str | None) -> FieldValue:
    # A checkbox is absent from a form when unticked: for a prefilled boolean, absence is
    # False and any value is True.
    if isinstance(old, bool):
        return new is not None
    return new if new is not None else ""


def _fields(fields: Mapping[str, str]) -> dict[str, str]:
    if len(fields) > MAX_FIELDS:
        raise FormInvalid(f"a form has at most {MAX_FIELDS} fields")
    checked: dict[str, str] = {}
    for name, value in fields.items():
        if not _FIELD.match(name):
            raise FormInvalid(f"{name[:64]!r} is not a field of this form")
        if len(value) > MAX_VALUE_CHARS:
            raise FormInvalid(f"{name} is longer than {MAX_VALUE_CHARS} characters")
        checked[name] = value
    return checked
