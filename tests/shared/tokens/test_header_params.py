"""Header parameters a verifier must let through: RFC 7515 §4 says unknown ones are ignored
(unless listed in `crit`, which we refuse), and headers up to our 2 KiB limit are fine."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from joserfc import jws
from joserfc.jws import JWSRegistry

from shared import Account, TokenInvalidFormat, Verifier
from tests.support.tokens import claims, private_key, unb64


class _Lenient(JWSRegistry):
    max_header_length = 8192  # the customer's library may allow more than joserfc's 512


def sign(payload: dict[str, object], alg: str, stem: str, **header: object) -> str:
    """Sign as a customer's library would, private header parameters included."""
    registry = _Lenient(algorithms=[alg], strict_check_header=False)
    return jws.serialize_compact(
        {"alg": alg, "typ": "JWT", **header},
        json.dumps(payload),
        private_key(stem),
        registry=registry,
    )


@pytest.mark.parametrize(
    "extra",
    [
        {"x-trace": "abc-123"},
        {"https://example.com/tenant": {"region": "eu"}},
        {"kid": "k" * 1900},  # a long kid: the header is ~1.9 KiB, under the 2 KiB limit
    ],
    ids=["private-param", "collision-resistant-name", "long-header"],
)
def test_unknown_header_parameters_are_ignored(
    verifier: Verifier, make_account: Callable[..., Account], extra: dict[str, object]
) -> None:
    """A correctly signed token with a private or long header verifies (joserfc's own
    512-character header cap and strict header names would call it a bad signature)."""
    account = make_account()
    token = sign(claims(), "ES256", "ec-p256", **extra)
    assert verifier.verify(token, account_id=account.id, campaign_id="1001").subject


def test_header_over_the_limit_is_invalid_format(
    verifier: Verifier, make_account: Callable[..., Account]
) -> None:
    """One byte over 2 KiB of header JSON is a format error, whatever its base64 length."""
    account = make_account()
    base = len(unb64(sign(claims(), "ES256", "ec-p256", x="").split(".")[0]))
    token = sign(claims(), "ES256", "ec-p256", x="p" * (2049 - base))
    assert len(unb64(token.split(".")[0])) == 2049
    with pytest.raises(TokenInvalidFormat, match="header is larger than 2048 bytes"):
        verifier.verify(token, account_id=account.id, campaign_id="1001")
