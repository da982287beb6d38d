"""Participations against a real Redis: the limit, single-use forms, races, the entries
stream, and Redis down."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.errors import VerificationUnavailable
from shared.identity import FormUsed, ParticipationLimitReached, Participations
from tests.support.openbao import free_port
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[3]


def _campaign() -> tuple[str, str]:
    return f"t-{uuid.uuid4().hex[:12]}", "1001"


def _run(url: str, work: Any) -> Any:
    async def run() -> Any:
        participations = Participations(url)
        try:
            return await work(participations)
        finally:
            await participations.close()

    return asyncio.run(run())


async def _record(
    participations: Participations, account: str, campaign: str, form_id: str, **kw: Any
) -> int:
    return await participations.record(
        account,
        campaign,
        kw.pop("subject", "p-1"),
        limit=kw.pop("limit", 2),
        form_id=form_id,
        ttl=kw.pop("ttl", 60),
        entry=kw.pop("entry", b'{"form": "%s"}' % form_id.encode()),
    )


def _entries(redis_server: RedisServer, key: str) -> list[bytes]:
    client = redis_server.client()
    try:
        stream: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(key)  # type: ignore[assignment]
        return [fields[b"entry"] for _, fields in stream]
    finally:
        client.close()


def test_limit_two_accepts_two_and_refuses_the_third(redis_server: RedisServer) -> None:
    """With limit=2 the first two forms count 1 and 2; the third raises
    ParticipationLimitReached and is not recorded."""
    account, campaign = _campaign()

    async def work(p: Participations) -> tuple[int, int, int]:
        first = await _record(p, account, campaign, "f1")
        second = await _record(p, account, campaign, "f2")
        with pytest.raises(ParticipationLimitReached) as info:
            await _record(p, account, campaign, "f3")
        assert info.value.code == "PARTICIPATION_LIMIT_REACHED"
        return first, second, await p.count(account, campaign, "p-1")

    assert _run(redis_server.url, work) == (1, 2, 2)
    key = Participations(redis_server.url).entries_key(account, campaign)
    assert _entries(redis_server, key) == [b'{"form": "f1"}', b'{"form": "f2"}']


def test_same_form_twice_is_form_used(redis_server: RedisServer) -> None:
    """A form id recorded once raises FormUsed the second time, even with room left."""
    account, campaign = _campaign()

    async def work(p: Participations) -> int:
        await _record(p, account, campaign, "f1", limit=None)
        with pytest.raises(FormUsed) as info:
            await _record(p, account, campaign, "f1", limit=None)
        assert info.value.code == "FORM_USED"
        return await p.count(account, campaign, "p-1")

    assert _run(redis_server.url, work) == 1


def test_no_limit_counts_on(redis_server: RedisServer) -> None:
    """limit=None never refuses; each form adds one."""
    account, campaign = _campaign()

    async def work(p: Participations) -> list[int]:
        return [await _record(p, account, campaign, f"f{i}", limit=None) for i in range(5)]

    assert _run(redis_server.url, work) == [1, 2, 3, 4, 5]


def test_limit_zero_refuses_at_once(redis_server: RedisServer) -> None:
    """limit=0 refuses the first participation."""
    account, campaign = _campaign()

    async def work(p: Participations) -> None:
        await _record(p, account, campaign, "f1", limit=0)

    with pytest.raises(ParticipationLimitReached):
        _run(redis_server.url, work)


def test_counts_are_per_subject_and_campaign(redis_server: RedisServer) -> None:
    """Another participant, or another campaign, has a count of its own."""
    account, campaign = _campaign()

    async def work(p: Participations) -> tuple[int, int, int]:
        await _record(p, account, campaign, "a1", limit=1)
        other_subject = await _record(p, account, campaign, "b1", limit=1, subject="p-2")
        other_campaign = await _record(p, account, "1002", "c1", limit=1)
        return other_subject, other_campaign, await p.count(account, "1003", "p-1")

    assert _run(redis_server.url, work) == (1, 1, 0)


def test_subject_is_not_stored_in_clear(redis_server: RedisServer) -> None:
    """The count key carries a hash of the subject, not the subject."""
    account, campaign = _campaign()
    subject = f"secret-subject-{uuid.uuid4().hex}"

    async def work(p: Participations) -> None:
        await _record(p, account, campaign, "f1", subject=subject)

    _run(redis_server.url, work)
    client = redis_server.client()
    try:
        keys = [k.decode() for k in client.scan_iter(match=f"*{account}*")]
    finally:
        client.close()
    assert keys
    assert not any(subject in key for key in keys)


def test_spent_form_id_expires_with_its_ttl(redis_server: RedisServer) -> None:
    """A spent form id carries the ttl given; the count does not expire."""
    account, campaign = _campaign()

    async def work(p: Participations) -> None:
        await _record(p, account, campaign, "f1", ttl=120)

    _run(redis_server.url, work)
    client = redis_server.client()
    try:
        ttls = {k.decode(): client.ttl(k) for k in client.scan_iter(match=f"*{account}*")}
    finally:
        client.close()
    form = [ttl for key, ttl in ttls.items() if ":form:" in key]
    count = [ttl for key, ttl in ttls.items() if ":count:" in key]
    assert len(form) == 1
    assert 0 < form[0] <= 120
    assert count == [-1]


def test_concurrent_records_in_one_loop_respect_the_limit(redis_server: RedisServer) -> None:
    """20 concurrent record() calls with limit=2 give exactly 2 successes and 2 entries."""
    account, campaign = _campaign()

    async def work(p: Participations) -> list[Any]:
        return await asyncio.gather(
            *(_record(p, account, campaign, f"f{i}") for i in range(20)), return_exceptions=True
        )

    results = _run(redis_server.url, work)
    wins = sorted(r for r in results if isinstance(r, int))
    assert wins == [1, 2]
    assert all(isinstance(r, ParticipationLimitReached) for r in results if not isinstance(r, int))
    key = Participations(redis_server.url).entries_key(account, campaign)
    assert len(_entries(redis_server, key)) == 2


def test_concurrent_records_from_threads_respect_the_limit(redis_server: RedisServer) -> None:
    """Two threads, each with its own Participations, racing 10 records each with limit=2:
    exactly 2 succeed in all."""
    account, campaign = _campaign()
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        async def work(p: Participations) -> list[Any]:
            await p.count(account, campaign, "p-1")  # connected before the race starts
            barrier.wait()
            return await asyncio.gather(
                *(_record(p, account, campaign, f"{name}{i}") for i in range(10)),
                return_exceptions=True,
            )

        results.extend(_run(redis_server.url, work))

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 20
    assert sorted(r for r in results if isinstance(r, int)) == [1, 2]
    key = Participations(redis_server.url).entries_key(account, campaign)
    assert len(_entries(redis_server, key)) == 2


_PROCESS = textwrap.dedent(
    """
    import asyncio, sys, time
    from shared.identity import Participations, ParticipationLimitReached

    url, account, name, start = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])

    async def main():
        p = Participations(url)
        await p.count(account, "1001", "p-1")
        await asyncio.sleep(max(0.0, start - time.time()))
        results = await asyncio.gather(*(
            p.record(account, "1001", "p-1", limit=2, form_id=f"{name}{i}", ttl=60,
                     entry=b"{}")
            for i in range(10)
        ), return_exceptions=True)
        await p.close()
        for r in results:
            if isinstance(r, int):
                print("ok", r)
            elif isinstance(r, ParticipationLimitReached):
                print("limit")
            else:
                print("error", repr(r))

    asyncio.run(main())
    """
)


def test_concurrent_records_from_two_processes_respect_the_limit(
    redis_server: RedisServer,
) -> None:
    """Two processes racing 10 records each with limit=2: exactly 2 succeed in all."""
    account, _ = _campaign()
    start = time.time() + 1.5
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS, redis_server.url, account, name, str(start)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    lines: list[str] = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        lines += out.split()
    assert lines.count("error") == 0
    assert lines.count("ok") == 2
    assert lines.count("limit") == 18
    key = Participations(redis_server.url).entries_key(account, "1001")
    assert len(_entries(redis_server, key)) == 2


def test_redis_down_is_unavailable() -> None:
    """With nothing listening at the URL, record() and count() raise
    VerificationUnavailable (UNKNOWN, retryable) quickly."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    account, campaign = _campaign()

    async def work(p: Participations) -> None:
        with pytest.raises(VerificationUnavailable) as info:
            await _record(p, account, campaign, "f1")
        assert info.value.code == "UNKNOWN"
        assert info.value.retryable is True
        with pytest.raises(VerificationUnavailable):
            await p.count(account, campaign, "p-1")

    started = time.monotonic()
    _run(url, work)
    assert time.monotonic() - started < 5.0
