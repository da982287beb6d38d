"""`tokenctl token encrypt` through both APIs served over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from shared import Account, Settings, Verifier
from tests.support.apis import (
    Apis,
    CliResult,
    HmacAccount,
    serve_apis,
)
from tests.support.jwks_server import JwksServer
from tests.support.openbao import free_port
from tests.support.tokens import KEYS, claims, sign

Cli = Callable[..., CliResult]


@pytest.fixture(scope="module")
def apis(settings: Settings, vault: object) -> Iterator[Apis]:
    with serve_apis(settings, crypto_rate_per_second=0.0) as running:
        yield running


def test_token_encrypt_round_trip(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, verifier: Verifier
) -> None:
    """The token itself is the jwt-bearer assertion; the printed JWE verifies with the
    player's verifier to the original claims."""
    original = claims(profile={"email": "ada@example.com"})
    token = sign(original, "HS256", hmac_account.secret)
    code, out, err = cli("token", "encrypt", *apis.args(hmac_account.id), token)
    assert (code, err) == (0, "")
    jwe = out.strip()
    assert len(jwe.split(".")) == 5
    opened = verifier.verify(jwe, account_id=hmac_account.id, campaign_id="1001")
    assert opened.claims == original
    assert opened.key_version == 1


def test_token_encrypt_with_client_assertion_json_and_stdin(
    cli: Cli, apis: Apis, make_account: Callable[..., Account], verifier: Verifier
) -> None:
    """With --key/--alg the bearer comes from a client assertion (an ES256 account here);
    --json gives {ok, token, kid}; '-' reads the token from stdin."""
    account = make_account(algorithms=("ES256",), key="ec-p256")
    token = sign(claims(), "ES256", "ec-p256")
    key = str(KEYS / "ec-p256-private.pem")
    code, out, _ = cli(
        "token",
        "encrypt",
        *apis.args(account.id),
        "--key",
        key,
        "--alg",
        "ES256",
        "--json",
        "-",
        stdin=token + "\n",
    )
    assert code == 0
    data = json.loads(out)
    assert (data["ok"], data["kid"]) == (True, f"{account.id}/1")
    assert verifier.verify(data["token"], account_id=account.id, campaign_id="1001").encrypted


@pytest.mark.parametrize(
    ("make_token", "with_key", "code_expected"),
    [
        (lambda a: a.token(iat=1, exp=2), False, "TOKEN_EXPIRED"),
        (lambda a: a.token(iat=1, exp=2), True, "TOKEN_EXPIRED"),
        (
            lambda a: sign(claims(), "HS256", b"another secret of 32 bytes......"),
            True,
            "TOKEN_INVALID_SIGNATURE",
        ),
        (lambda a: "garbage", True, "TOKEN_INVALID_FORMAT"),
    ],
    ids=["expired-at-exchange", "expired-at-crypto", "bad-signature", "garbage"],
)
def test_token_encrypt_refusal_prints_code(
    cli: Cli,
    apis: Apis,
    hmac_account: HmacAccount,
    make_token: Callable[[HmacAccount], str],
    with_key: bool,
    code_expected: str,
) -> None:
    """A refused token exits 1 with its code, whether the Authorization API refuses it (as
    the jwt-bearer assertion) or the Crypto API does (422); --json says the same."""
    key_args = ["--key", str(hmac_account.key_file), "--alg", "HS256"] if with_key else []
    token = make_token(hmac_account)
    code, out, err = cli("token", "encrypt", *apis.args(hmac_account.id), *key_args, token)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {code_expected}: ")
    assert err.count("\n") == 1
    assert token not in err
    code, out, _ = cli("token", "encrypt", *apis.args(hmac_account.id), *key_args, token, "--json")
    assert code == 1
    assert json.loads(out)["code"] == code_expected


def test_token_encrypt_urls_from_environment(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AUTHZ_ISSUER and CRYPTO_URL are the defaults of --authz-url and --crypto-url."""
    monkeypatch.setenv("AUTHZ_ISSUER", apis.authz_url)
    monkeypatch.setenv("CRYPTO_URL", apis.crypto_url)
    code, out, _ = cli("token", "encrypt", "--account", hmac_account.id, hmac_account.token())
    assert code == 0
    assert len(out.strip().split(".")) == 5


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--crypto-url", "http://127.0.0.1:9"], "--authz-url or set AUTHZ_ISSUER"),
        (["--authz-url", "http://127.0.0.1:9"], "--crypto-url or set CRYPTO_URL"),
        (["--authz-url", "ftp://x", "--crypto-url", "http://127.0.0.1:9"], "http(s) URL"),
        (["--authz-url", "http://a", "--crypto-url", "http://b", "--key", "k"], "go together"),
    ],
    ids=["no-authz-url", "no-crypto-url", "not-http", "key-without-alg"],
)
def test_token_encrypt_usage_errors(cli: Cli, args: list[str], fragment: str) -> None:
    """A missing or bad URL, or --key without --alg, is a usage error (exit 2), one line."""
    code, out, err = cli("token", "encrypt", "--account", "acme", *args, "a.b.c")
    assert (code, out) == (2, "")
    assert err.startswith("error: USAGE_ERROR: ")
    assert fragment in err


def test_token_encrypt_unreachable_exits_3(cli: Cli, apis: Apis, hmac_account: HmacAccount) -> None:
    """A Crypto API that cannot be reached exits 3 (retry later) with API_UNREACHABLE."""
    code, out, _ = cli(
        "token",
        "encrypt",
        "--account",
        hmac_account.id,
        "--authz-url",
        apis.authz_url,
        "--crypto-url",
        f"http://127.0.0.1:{free_port()}",
        "--retries",
        "0",
        "--json",
        hmac_account.token(),
    )
    assert code == 3
    assert json.loads(out)["code"] == "API_UNREACHABLE"


def test_token_encrypt_key_that_cannot_sign_exits_2(cli: Cli, apis: Apis) -> None:
    """A key that cannot sign with --alg (a P-384 key for ES256) is refused before any call,
    a usage error (exit 2), like ``token sign``."""
    code, out, _ = cli(
        "token", "encrypt", *apis.args("acme"), "--key", str(KEYS / "ec-p384-private.pem"),
        "--alg", "ES256", "--json", "a.b.c",
    )  # fmt: skip
    assert (code, json.loads(out)["code"]) == (2, "USAGE_ERROR")


def test_token_encrypt_jwks_refusal_exits_1_without_retrying(
    cli: Cli, apis: Apis, make_account: Callable[..., Account], jwks_server: JwksServer
) -> None:
    """Issue 13 finding 3: the account's JWKS endpoint answering 404 is a refusal named
    JWKS_REFUSED (exit 1, one fetch), not an outage retried to exit 3."""
    jwks_server.status = 404
    account = make_account("jwks", algorithms=("RS256",), jwks_uri=jwks_server.url)
    token = sign(claims(), "RS256", "rsa-2048", kid="k1")
    code, _, err = cli("token", "encrypt", *apis.args(account.id), token)
    assert code == 1, err
    assert "JWKS_REFUSED" in err
    assert "the account's JWKS endpoint answered HTTP 404" in err
    assert jwks_server.requests == 1
