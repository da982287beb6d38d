"""Each signature algorithm of DESIGN §2 verifies when the account pins it, and only then.

The account's allow-list, never the token's header, decides: a token signed with an
algorithm the account does not pin is TOKEN_INVALID_SIGNATURE even when the key would
verify it. Real OpenBao for the accounts; real signatures by joserfc.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from shared import Account, TokenInvalidSignature, Verifier
from tests.support.jwks_server import JwksServer
from tests.support.tokens import KEY_FOR_ALG, claims, private_key, sign

ASYMMETRIC = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
HMAC = ["HS256", "HS384", "HS512"]


def refused_signature(verifier: Verifier, token: str, account_id: str) -> TokenInvalidSignature:
    with pytest.raises(TokenInvalidSignature) as info:
        verifier.verify(token, account_id=account_id, campaign_id="1001")
    assert type(info.value) is TokenInvalidSignature
    assert info.value.code == "TOKEN_INVALID_SIGNATURE"
    return info.value


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_public_key_algorithm_verifies_when_pinned(
    alg: str, make_account: Callable[..., Account], verifier: Verifier
) -> None:
    """A token signed with a pinned RS*/ES* algorithm verifies with the account's PEM key."""
    account = make_account(algorithms=(alg,), key=KEY_FOR_ALG[alg])
    result = verifier.verify(
        sign(claims(), alg, KEY_FOR_ALG[alg]), account_id=account.id, campaign_id="1001"
    )
    assert result.algorithm == alg
    assert result.subject == "participant-42"


@pytest.mark.parametrize("alg", HMAC)
def test_hmac_algorithm_verifies_when_pinned(
    alg: str, make_account: Callable[..., Account], verifier: Verifier, hmac_secret: bytes
) -> None:
    """A token signed with a pinned HS* algorithm verifies with the account's shared secret."""
    account = make_account("symmetric", algorithms=(alg,), secret=hmac_secret)
    result = verifier.verify(
        sign(claims(), alg, hmac_secret), account_id=account.id, campaign_id="1001"
    )
    assert result.algorithm == alg


@pytest.mark.parametrize(
    ("pinned", "alg"),
    [
        (("RS256",), "RS384"),
        (("RS256",), "RS512"),
        (("RS384",), "RS256"),
        (("RS256", "RS384"), "RS512"),
        (("RS512",), "RS256"),
    ],
    ids=["RS256-gets-RS384", "RS256-gets-RS512", "RS384-gets-RS256", "RS256+384-gets-RS512",
         "RS512-gets-RS256"],
)  # fmt: skip
def test_unpinned_rsa_algorithm_is_invalid_signature(
    pinned: tuple[str, ...], alg: str, make_account: Callable[..., Account], verifier: Verifier
) -> None:
    """An RS* token signed by the account's own key but with an unpinned hash is refused."""
    account = make_account(algorithms=pinned, key="rsa-2048")
    detail = refused_signature(verifier, sign(claims(), alg, "rsa-2048"), account.id).detail
    assert "not allowed" in detail


@pytest.mark.parametrize(
    ("pinned", "alg"),
    [
        (("HS256",), "HS512"),
        (("HS256",), "HS384"),
        (("HS512",), "HS256"),
        (("HS384", "HS512"), "HS256"),
    ],
    ids=["HS256-gets-HS512", "HS256-gets-HS384", "HS512-gets-HS256", "HS384+512-gets-HS256"],
)
def test_unpinned_hmac_algorithm_is_invalid_signature(
    pinned: tuple[str, ...],
    alg: str,
    make_account: Callable[..., Account],
    verifier: Verifier,
    hmac_secret: bytes,
) -> None:
    """An HS* token signed with the account's own secret but an unpinned hash is refused."""
    account = make_account("symmetric", algorithms=pinned, secret=hmac_secret)
    refused_signature(verifier, sign(claims(), alg, hmac_secret), account.id)


@pytest.mark.parametrize(
    ("key", "pinned", "alg"),
    [
        ("ec-p256", "ES256", "ES384"),
        ("ec-p256", "ES256", "ES512"),
        ("ec-p384", "ES384", "ES256"),
        ("rsa-2048", "RS256", "ES256"),
        ("ec-p256", "ES256", "RS256"),
    ],
    ids=["ES256-gets-ES384", "ES256-gets-ES512", "ES384-gets-ES256", "RSA-gets-ES256",
         "EC-gets-RS256"],
)  # fmt: skip
def test_other_family_or_curve_is_invalid_signature(
    key: str, pinned: str, alg: str, make_account: Callable[..., Account], verifier: Verifier
) -> None:
    """A token signed (with its own proper key) for another family or curve than the account
    pins is refused."""
    account = make_account(algorithms=(pinned,), key=key)
    refused_signature(verifier, sign(claims(), alg, KEY_FOR_ALG[alg]), account.id)


@pytest.mark.parametrize(
    ("alg", "key", "other"),
    [("RS256", "rsa-2048", "rsa-2048-other"), ("ES256", "ec-p256", "ec-p256-other")],
    ids=["RS256", "ES256"],
)
def test_pinned_algorithm_with_another_key_is_invalid_signature(
    alg: str, key: str, other: str, make_account: Callable[..., Account], verifier: Verifier
) -> None:
    """The right algorithm signed by someone else's key is refused."""
    account = make_account(algorithms=(alg,), key=key)
    assert (
        "does not verify"
        in refused_signature(verifier, sign(claims(), alg, other), account.id).detail
    )


@pytest.mark.parametrize("alg", HMAC)
def test_hmac_with_another_secret_is_invalid_signature(
    alg: str, make_account: Callable[..., Account], verifier: Verifier, hmac_secret: bytes
) -> None:
    """The right HS* algorithm with a different secret is refused."""
    account = make_account("symmetric", algorithms=(alg,), secret=hmac_secret)
    other = bytes(b ^ 0xFF for b in hmac_secret)
    refused_signature(verifier, sign(claims(), alg, other), account.id)


def test_account_with_several_algorithms_accepts_each(
    make_account: Callable[..., Account], verifier: Verifier
) -> None:
    """An account pinning RS256 and RS512 accepts both and reports which one verified."""
    account = make_account(algorithms=("RS256", "RS512"), key="rsa-2048")
    for alg in ("RS256", "RS512"):
        token = sign(claims(), alg, "rsa-2048")
        assert verifier.verify(token, account_id=account.id, campaign_id="1001").algorithm == alg


@pytest.fixture(scope="module")
def jwks_all() -> Iterator[JwksServer]:
    """One JWKS endpoint for the module, publishing every test key with its algorithm as kid.

    Module-scoped because stopping the server costs half a second (its poll interval).
    """
    server = JwksServer().start()
    server.document = {
        "keys": [
            {**private_key(stem).as_dict(private=False), "kid": alg, "use": "sig"}
            for alg, stem in KEY_FOR_ALG.items()
        ]
    }
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_jwks_algorithm_verifies_when_pinned_and_not_otherwise(
    alg: str, make_account: Callable[..., Account], verifier: Verifier, jwks_all: JwksServer
) -> None:
    """Through a JWKS endpoint, a pinned algorithm verifies; the same key and token under an
    account that pins another algorithm are refused."""
    other = "RS256" if alg != "RS256" else "RS384"
    account = make_account("jwks", algorithms=(alg, other), jwks_uri=jwks_all.url)
    token = sign(claims(), alg, KEY_FOR_ALG[alg], kid=alg)
    assert verifier.verify(token, account_id=account.id, campaign_id="1001").algorithm == alg

    narrow = make_account("jwks", algorithms=(other,), jwks_uri=jwks_all.url, id=f"{account.id}-n")
    refused_signature(verifier, token, narrow.id)
