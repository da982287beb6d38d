"""Every corpus case through ``Verifier.verify``: the exact DESIGN §2 code and error class,
never another exception, never an acceptance."""

from __future__ import annotations

import time

import pytest

from shared import TokenError, Vault, Verifier
from tests.hostile.corpus import CASES, Case
from tests.hostile.forge import CAMPAIGN, ROLES, Context, jws
from tests.support.verification import CODES


@pytest.fixture(scope="module")
def player(vault: Vault) -> Verifier:
    """The campaign player's verifier, shared by the module (caches warm after the first)."""
    return Verifier(vault)


@pytest.mark.parametrize("role", ROLES)
def test_each_account_accepts_its_valid_token(
    player: Verifier, hostile: Context, role: str
) -> None:
    """Baseline: every account the corpus targets verifies an honest token, so each refusal
    below is the attack's doing."""
    result = player.verify(jws(hostile, role), account_id=hostile.ids[role], campaign_id=CAMPAIGN)
    assert result.subject == "participant-42"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_verifier_refuses_with_the_exact_code(
    player: Verifier, hostile: Context, corpus_tokens: dict[str, str], case: Case
) -> None:
    """The verifier refuses the case with its expected code (and class), in time."""
    started = time.perf_counter()
    try:
        result = player.verify(
            corpus_tokens[case.id], account_id=hostile.ids[case.account], campaign_id=CAMPAIGN
        )
    except TokenError as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 - any other exception is the failure under test
        pytest.fail(f"raised {type(exc).__name__}: {exc}")
    else:
        pytest.fail(f"accepted: subject {result.subject!r}")
    elapsed = time.perf_counter() - started
    assert (error.code, type(error)) == (case.expect.verifier, CODES[case.expect.verifier]), (
        error.detail
    )
    assert error.retryable is False
    if case.max_seconds is not None:
        assert elapsed < case.max_seconds
