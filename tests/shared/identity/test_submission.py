"""Submissions end to end on a real Redis: form token, fields, changes, and the count."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from shared.identity import (
    FieldChange,
    FormInvalid,
    FormKeys,
    FormTokens,
    FormUsed,
    ParticipationLimitReached,
    Participations,
    Submissions,
    Submitted,
)
from shared.identity.prefill import FieldValue
from tests.support.redis_server import RedisServer

FORMS = FormTokens(FormKeys((("1", secrets.token_bytes(32)),)))


def _form(
    account: str,
    *,
    campaign: str = "1001",
    limit: int | None = 2,
    prefilled: dict[str, FieldValue] | None = None,
) -> str:
    token, _ = FORMS.issue(
        account=account,
        campaign=campaign,
        subject="p-1",
        now=time.time(),
        limit=limit,
        prefilled=prefilled if prefilled is not None else {},
    )
    return token


def _submit(
    redis_server: RedisServer, account: str, token: str, fields: Mapping[str, str], **kw: Any
) -> Submitted:
    async def run() -> Submitted:
        participations = Participations(redis_server.url)
        try:
            submissions = Submissions(FORMS, participations, **kw)
            return await submissions.submit(account, "1001", token, fields)
        finally:
            await participations.close()

    return asyncio.run(run())


def _account() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def test_submit_records_and_reports_changes(redis_server: RedisServer) -> None:
    """An accepted form returns the count, its fields, and old/new of the prefilled fields
    the participant changed (an emptied one becomes "")."""
    account = _account()
    token = _form(account, prefilled={"email": "old@example.com", "city": "Paris", "name": "Ada"})
    fields = {"email": "new@example.com", "city": "Paris", "phone": "0123"}
    result = _submit(redis_server, account, token, fields)
    assert result.account == account
    assert result.campaign == "1001"
    assert result.subject == "p-1"
    assert result.participations == 1
    assert result.limit == 2
    assert result.fields == fields
    assert result.changed == {
        "email": FieldChange(old="old@example.com", new="new@example.com"),
        "name": FieldChange(old="Ada", new=""),
    }


def test_entry_lands_in_the_stream(redis_server: RedisServer) -> None:
    """The accepted entry (subject, time, fields) is appended to the campaign's stream."""
    account = _account()
    before = int(time.time())
    _submit(redis_server, account, _form(account), {"email": "a@example.com"})
    client = redis_server.client()
    try:
        key = f"player:entries:{{{account}:1001}}"
        stream: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(key)  # type: ignore[assignment]
        stored = [json.loads(f[b"entry"]) for _, f in stream]
    finally:
        client.close()
    assert len(stored) == 1
    assert stored[0]["sub"] == "p-1"
    assert stored[0]["fields"] == {"email": "a@example.com"}
    assert before <= stored[0]["at"] <= int(time.time())


def test_prefilled_booleans_follow_checkbox_semantics(redis_server: RedisServer) -> None:
    """For a prefilled boolean, absence means False and any value means True."""
    account = _account()
    token = _form(account, limit=None, prefilled={"optin": True, "news": False, "vip": True})
    result = _submit(redis_server, account, token, {"news": "on", "vip": ""})
    assert result.changed == {
        "optin": FieldChange(old=True, new=False),
        "news": FieldChange(old=False, new=True),
    }


def test_unchanged_form_reports_no_changes(redis_server: RedisServer) -> None:
    """Fields sent back as prefilled report no change."""
    account = _account()
    token = _form(account, prefilled={"email": "a@example.com", "optin": True})
    result = _submit(redis_server, account, token, {"email": "a@example.com", "optin": "on"})
    assert result.changed == {}


@pytest.mark.parametrize(
    "fields",
    [
        {"First-Name": "Ada"},
        {"": "x"},
        {"email\n": "x"},
        {"email": "x" * 1001},
        {f"f{i}": "x" for i in range(101)},
    ],
)
def test_malformed_fields_are_refused(redis_server: RedisServer, fields: dict[str, str]) -> None:
    """Bad field names, over-long values or too many fields raise FormInvalid and record
    nothing (the same form then goes through)."""
    account = _account()
    token = _form(account)
    with pytest.raises(FormInvalid) as info:
        _submit(redis_server, account, token, fields)
    assert type(info.value) is FormInvalid
    assert _submit(redis_server, account, token, {"ok": "1"}).participations == 1


def test_form_for_another_campaign_is_refused(redis_server: RedisServer) -> None:
    """A form made for another campaign or account raises FormInvalid."""
    account = _account()
    with pytest.raises(FormInvalid):
        _submit(redis_server, account, _form(account, campaign="1002"), {})
    with pytest.raises(FormInvalid):
        _submit(redis_server, account, _form(_account()), {})


def test_expired_form_is_refused(redis_server: RedisServer) -> None:
    """A form submitted after FORM_TTL raises FormInvalid."""
    account = _account()
    token = _form(account)
    with pytest.raises(FormInvalid, match="expired"):
        _submit(redis_server, account, token, {}, clock=lambda: time.time() + 1801)


def test_same_form_twice_is_used_and_limit_holds(redis_server: RedisServer) -> None:
    """A form counts once (FormUsed after); with limit=2 a third form is refused."""
    account = _account()
    first = _form(account)
    assert _submit(redis_server, account, first, {}).participations == 1
    with pytest.raises(FormUsed):
        _submit(redis_server, account, first, {})
    assert _submit(redis_server, account, _form(account), {}).participations == 2
    with pytest.raises(ParticipationLimitReached):
        _submit(redis_server, account, _form(account), {})
