"""call_within: a blocking call given up at a deadline, with no thread hop when it fits."""

from __future__ import annotations

import threading
import time

import pytest

from shared.errors import TokenDecryptionFailed, VerificationUnavailable
from shared.tokens.deadline import call_within, deadline_in


def test_runs_on_the_callers_thread_when_its_bound_fits() -> None:
    """A call whose own timeout ends well before the deadline runs right here."""
    seen: list[threading.Thread] = []
    assert (
        call_within(
            deadline_in(5.0), lambda: seen.append(threading.current_thread()) or 1, bound=1.0
        )
        == 1
    )
    assert seen == [threading.current_thread()]


def test_given_up_at_the_deadline() -> None:
    """A call that could outlast the deadline is abandoned at it: UNKNOWN, retryable."""
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(VerificationUnavailable, match="deadline") as caught:
        call_within(deadline_in(0.3), lambda: release.wait(5), bound=5.0)
    assert 0.25 < time.monotonic() - started < 1.0
    assert caught.value.retryable
    release.set()


def test_errors_and_values_come_back_from_the_worker_thread() -> None:
    """Run on a worker thread, the call's value and its error reach the caller."""
    assert call_within(deadline_in(1.0), lambda: 42, bound=5.0) == 42

    def refuse() -> None:
        raise TokenDecryptionFailed("bad tag")

    with pytest.raises(TokenDecryptionFailed):
        call_within(deadline_in(1.0), refuse, bound=5.0)


def test_a_passed_deadline_fails_without_calling() -> None:
    """Nothing is started once the deadline has passed."""
    called: list[int] = []
    with pytest.raises(VerificationUnavailable):
        call_within(time.monotonic() - 1, lambda: called.append(1), bound=1.0)
    assert called == []
