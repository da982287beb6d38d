"""tokenctl through its entry point, against the real OpenBao of the session."""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import hvac
import pytest

from shared import AccountStore, Settings, Vault
from shared.cli import build_parser
from tests.support.apis import EC_ACCOUNT, in_process_cli, vault_cli
from tests.support.openbao import DevServer
from tests.support.tokens import KEYS, claims

EC_PRIVATE = str(KEYS / "ec-p256-private.pem")
EC_PUBLIC = str(KEYS / "ec-p256-public.pem")


@pytest.fixture
def cli(
    settings: Settings,
    vault: Vault,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """Run tokenctl in-process with the session Vault; returns (exit code, stdout, stderr)."""
    return vault_cli(monkeypatch, capsys, settings)


def run_json(cli: Any, *argv: str, stdin: str | None = None) -> tuple[int, dict[str, Any]]:
    code, out, _ = cli(*argv, "--json", stdin=stdin)
    return code, json.loads(out)


def create_ec_account(cli: Any, account_id: str, *extra: str) -> None:
    code, _, err = cli("accounts", "create", account_id, *EC_ACCOUNT, *extra)
    assert code == 0, err


def build_parser_help(*command: str) -> str:
    """The --help text of a subcommand."""
    parser = build_parser()
    for name in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser.format_help()


def signed(cli: Any, payload: dict[str, Any], key: str = EC_PRIVATE, alg: str = "ES256") -> str:
    code, out, err = cli(
        "token", "sign", "--key", key, "--alg", alg, "--claims", json.dumps(payload)
    )
    assert code == 0, err
    return out.strip()


def test_vault_bootstrap_is_idempotent(cli: Any) -> None:
    """A second bootstrap creates nothing and reports the mounts, key and policies present."""
    code, data = run_json(cli, "vault", "bootstrap")
    assert code == 0
    assert data["ok"] is True
    assert data["created"] == []
    assert "transit key authz-signing" in data["present"]
    assert {"policy admin", "policy player"} <= set(data["present"])


def test_accounts_create_show_list_disable(cli: Any, account_id: str) -> None:
    """An account created from a PEM shows, lists, and once disabled refuses its tokens."""
    code, data = run_json(
        cli,
        "accounts",
        "create",
        account_id,
        "--method",
        "public_key",
        "--pem",
        EC_PUBLIC,
        "--alg",
        "ES256",
        "--issuer",
        "acme",
        "--leeway",
        "30",
    )
    assert code == 0
    assert data["account"]["validation"]["method"] == "public_key"
    assert data["account"]["issuer"] == "acme"
    assert data["account"]["policy"]["leeway"] == 30

    code, data = run_json(cli, "accounts", "show", account_id)
    assert (code, data["account"]["id"], data["account"]["status"]) == (0, account_id, "active")
    code, data = run_json(cli, "accounts", "list")
    assert account_id in data["accounts"]

    token = signed(cli, claims(iss="acme"))
    assert cli("token", "verify", "--account", account_id, "--campaign", "1001", token)[0] == 0
    code, data = run_json(cli, "accounts", "disable", account_id)
    assert (code, data["account"]["status"]) == (0, "disabled")
    code, data = run_json(
        cli, "token", "verify", "--account", account_id, "--campaign", "1001", token
    )
    assert (code, data["code"]) == (1, "TOKEN_INVALID_SIGNATURE")


def test_accounts_create_twice_fails_with_code(cli: Any, account_id: str) -> None:
    """Creating an existing account exits 1 with ACCOUNT_EXISTS and a one-line reason."""
    create_ec_account(cli, account_id)
    code, out, err = cli(
        "accounts",
        "create",
        account_id,
        "--method",
        "public_key",
        "--pem",
        EC_PUBLIC,
        "--alg",
        "ES256",
    )
    assert code == 1
    assert out == ""
    assert err.strip() == f"error: ACCOUNT_EXISTS: account '{account_id}' already exists"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--method", "public_key", "--pem", EC_PUBLIC, "--alg", "HS256"], "not allowed"),
        (["--method", "public_key", "--pem", EC_PUBLIC, "--alg", "ES384"], "cannot verify"),
        (["--method", "public_key", "--pem", EC_PRIVATE, "--alg", "ES256"], "not the private key"),
        (["--method", "public_key", "--alg", "ES256"], "--pem"),
        (["--method", "jwks", "--jwks-uri", "http://example.com/j", "--alg", "RS256"], "https"),
        (
            ["--method", "jwks", "--jwks-uri", "http://127.0.0.1:9/j", "--alg", "RS256"],
            "JWKS_ALLOW_LOOPBACK_HTTP",
        ),
        (["--method", "symmetric", "--alg", "RS256"], "not allowed"),
    ],
    ids=[
        "hmac-on-public-key",
        "wrong-curve",
        "private-pem",
        "missing-pem",
        "http-jwks",
        "loopback-jwks-without-the-dev-setting",
        "rs-on-hmac",
    ],
)
def test_accounts_create_invalid(cli: Any, account_id: str, args: list[str], fragment: str) -> None:
    """An invalid account exits 1 with ACCOUNT_INVALID naming the broken rule."""
    code, data = run_json(cli, "accounts", "create", account_id, *args)
    assert code == 1
    assert data["ok"] is False
    assert data["code"] == "ACCOUNT_INVALID"
    assert fragment in data["detail"]


def test_symmetric_secret_generated_once_and_usable(
    cli: Any, account_id: str, tmp_path: Path
) -> None:
    """A generated HMAC secret is printed at creation only, and signs tokens that verify."""
    code, data = run_json(
        cli,
        "accounts",
        "create",
        account_id,
        "--method",
        "symmetric",
        "--alg",
        "HS256",
        "--alg",
        "HS512",
    )
    assert code == 0
    secret = data["secret"]
    assert len(secret) == 64
    code, out, _ = cli("accounts", "show", account_id)
    assert secret not in out
    assert "<hidden, 64 bytes>" in out
    key_file = tmp_path / "secret"
    key_file.write_text(secret)
    token = signed(cli, claims(), key=str(key_file), alg="HS512")
    code, data = run_json(
        cli, "token", "verify", "--account", account_id, "--campaign", "1001", token
    )
    assert (code, data["ok"], data["alg"]) == (0, True, "HS512")


def test_symmetric_secret_file_and_customer_encryption(
    cli: Any, account_id: str, tmp_path: Path
) -> None:
    """--secret-file imports raw bytes; --customer-enc-* stores the pinned pair, key hidden."""
    (tmp_path / "s").write_bytes(os.urandom(32))
    (tmp_path / "k").write_bytes(os.urandom(32))
    code, data = run_json(
        cli,
        "accounts",
        "create",
        account_id,
        "--method",
        "symmetric",
        "--alg",
        "HS256",
        "--secret-file",
        str(tmp_path / "s"),
        "--customer-enc-key-file",
        str(tmp_path / "k"),
        "--customer-enc-alg",
        "A256KW",
        "--customer-enc-enc",
        "A256GCM",
    )
    assert code == 0
    assert "secret" not in data  # imported, so nothing to print
    assert data["account"]["customer_encryption"] == {
        "alg": "A256KW",
        "enc": "A256GCM",
        "key": "<hidden, 32 bytes>",
    }


def test_jwks_account(cli: Any, account_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A JWKS account on loopback http is accepted when JWKS_ALLOW_LOOPBACK_HTTP is set."""
    monkeypatch.setenv("JWKS_ALLOW_LOOPBACK_HTTP", "1")
    code, data = run_json(
        cli,
        "accounts",
        "create",
        account_id,
        "--method",
        "jwks",
        "--jwks-uri",
        "http://127.0.0.1:9/jwks.json",
        "--alg",
        "RS256",
    )
    assert code == 0
    assert data["account"]["validation"]["jwks_uri"] == "http://127.0.0.1:9/jwks.json"


def test_keys_list_rotate_retire(cli: Any, account_id: str) -> None:
    """Rotation adds versions; retire needs --yes, refuses the latest, marks versions retired."""
    create_ec_account(cli, account_id)
    code, data = run_json(cli, "keys", "rotate", account_id)
    assert (code, data["latest_version"]) == (0, 2)
    cli("keys", "rotate", account_id)
    code, data = run_json(cli, "keys", "list", account_id)
    assert [(v["version"], v["status"]) for v in data["versions"]] == [
        (3, "encrypt"),
        (2, "decrypt"),
        (1, "decrypt"),
    ]
    code, data = run_json(cli, "keys", "retire", account_id, "--below", "2")
    assert (code, data["code"]) == (2, "CONFIRMATION_REQUIRED")
    code, data = run_json(cli, "keys", "retire", account_id, "--below", "4", "--yes")
    assert (code, data["code"]) == (1, "KEY_OPERATION_REFUSED")
    code, data = run_json(cli, "keys", "retire", account_id, "--below", "2", "--yes")
    assert code == 0
    assert [v["status"] for v in data["versions"]] == ["encrypt", "decrypt", "retired"]
    code, out, _ = cli("keys", "list", account_id)
    assert "retired" in out


def test_token_sign_seal_verify_round_trip(cli: Any, account_id: str) -> None:
    """sign → seal → verify succeeds; the JSON result carries sub, claims and key version."""
    create_ec_account(cli, account_id)
    token = signed(cli, claims(profile={"email": "a@example.com"}))
    code, data = run_json(cli, "token", "seal", "--account", account_id, token)
    assert code == 0
    assert data["kid"] == f"{account_id}/1"
    jwe = data["token"]
    code, data = run_json(
        cli, "token", "verify", "--account", account_id, "--campaign", "1001", jwe
    )
    assert code == 0
    assert data["ok"] is True
    assert data["sub"] == "participant-42"
    assert data["claims"]["profile"] == {"email": "a@example.com"}
    assert (data["encrypted"], data["key_version"]) == (True, 1)


@pytest.mark.parametrize(
    ("framing", "code"),
    [
        ("{}\n", 0),  # echo TOKEN | tokenctl token verify ... -
        ("{}\r\n", 0),
        ("{}", 0),  # printf %s
        (" {}\n", 1),  # the token's own whitespace is refused, not stripped
        ("{}\n\n", 1),
        ("{}\t\n", 1),
    ],
    ids=["echo", "crlf", "printf", "leading-space", "two-newlines", "tab"],
)
def test_stdin_strips_its_line_ending_and_nothing_else(
    cli: Any, account_id: str, framing: str, code: int
) -> None:
    """`-` removes stdin's one final line ending; any other whitespace is the token's, and
    the library refuses it as TOKEN_INVALID_FORMAT (issue 18)."""
    create_ec_account(cli, account_id)
    token = signed(cli, claims(campaign="777"))
    argv = ("token", "verify", "--account", account_id, "--campaign", "777", "-")
    got, _, err = cli(*argv, stdin=framing.format(token))
    assert got == code, err
    if code:
        assert err.startswith("error: TOKEN_INVALID_FORMAT:")


def test_token_verify_reads_stdin_and_fails_with_code(cli: Any, account_id: str) -> None:
    """A token of '-' is read from stdin; a refusal prints the code and exits 1."""
    create_ec_account(cli, account_id)
    token = signed(cli, claims(campaign="777"))
    code, out, _ = cli(
        "token", "verify", "--account", account_id, "--campaign", "777", "-", stdin=token + "\n"
    )
    assert code == 0
    assert "sub=participant-42" in out
    code, out, err = cli(
        "token", "verify", "--account", account_id, "--campaign", "1", "-", stdin=token
    )
    assert code == 1
    assert err.startswith("error: TOKEN_INVALID_CLAIMS:")
    code, data = run_json(cli, "token", "verify", "--account", account_id, "--campaign", "1", "x.y")
    assert (code, data) == (
        1,
        {"ok": False, "code": "TOKEN_INVALID_FORMAT", "detail": data["detail"]},
    )


def test_token_seal_refuses_a_jwe(cli: Any, account_id: str) -> None:
    """Sealing something that is not a JWS exits 1 with TOKEN_INVALID_FORMAT."""
    create_ec_account(cli, account_id)
    code, data = run_json(cli, "token", "seal", "--account", account_id, "a.b.c.d.e")
    assert (code, data["code"]) == (1, "TOKEN_INVALID_FORMAT")


def test_token_sign_with_public_key_is_refused(cli: Any) -> None:
    """Signing needs the private key: a public PEM is a usage error (exit 2)."""
    code, data = run_json(
        cli, "token", "sign", "--key", EC_PUBLIC, "--alg", "ES256", "--claims", "{}"
    )
    assert (code, data["code"]) == (2, "USAGE_ERROR")
    assert "public key" in data["detail"]


@pytest.mark.parametrize(
    ("key", "alg", "fragment"),
    [
        (str(KEYS / "rsa-2048-private.pem"), "ES256", "not a private key usable with ES256"),
        (str(KEYS / "ec-p384-private.pem"), "ES256", "cannot sign ES256"),
        ("/nonexistent/key.pem", "ES256", "cannot read key file"),
    ],
    ids=["rsa-for-es256", "p384-for-es256", "missing-file"],
)
def test_token_sign_unusable_key_is_a_usage_error(
    cli: Any, key: str, alg: str, fragment: str
) -> None:
    """A key of the wrong type for --alg, or a missing key file, exits 2 (a typing
    mistake), not 4 ("check VAULT_*"), and names the reason."""
    code, data = run_json(cli, "token", "sign", "--key", key, "--alg", alg, "--claims", "{}")
    assert (code, data["code"]) == (2, "USAGE_ERROR")
    assert fragment in data["detail"]


def test_token_sign_hs256_with_a_pem_key_is_refused(cli: Any) -> None:
    """An EC PEM given for HS256 is refused (exit 2, naming the raw secret it needs)
    instead of signing with the PEM text as the secret; no SecurityWarning is printed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a SecurityWarning would fail the test
        code, out, err = cli(
            "token", "sign", "--key", EC_PRIVATE, "--alg", "HS256", "--claims", "{}"
        )
    assert code == 2, out
    assert out == ""
    assert err.startswith("error: USAGE_ERROR: ")
    assert "is a PEM key" in err
    assert "raw HMAC secret" in err
    assert "SecurityWarning" not in err


@pytest.mark.parametrize(
    "claims_arg",
    ['{"sub": "p1", "x": NaN}', '{"n": Infinity}', '{"n": -Infinity}', '{"big": 1e400}'],
    ids=["nan", "infinity", "minus-infinity", "1e400"],
)
def test_token_sign_refuses_non_finite_numbers(cli: Any, claims_arg: str) -> None:
    """NaN, Infinity and numbers beyond a float (1e400) in --claims are refused at input
    (exit 2), rather than signed into a payload the verifier refuses."""
    code, data = run_json(
        cli, "token", "sign", "--key", EC_PRIVATE, "--alg", "ES256", "--claims", claims_arg
    )
    assert (code, data["code"]) == (2, "USAGE_ERROR")
    assert "--claims holds" in data["detail"]


def test_token_sign_refuses_a_secret_file_ending_in_a_newline(cli: Any, tmp_path: Path) -> None:
    """A text secret saved with `echo` (trailing newline) is refused with a hint, not
    signed into a token the account refuses as TOKEN_INVALID_SIGNATURE; the same secret
    without the newline signs."""
    secret = "k" * 64
    echoed = tmp_path / "echoed.secret"
    echoed.write_text(secret + "\n")
    code, data = run_json(
        cli, "token", "sign", "--key", str(echoed), "--alg", "HS256", "--claims", "{}"
    )
    assert (code, data["code"]) == (2, "USAGE_ERROR")
    assert "ends with a newline" in data["detail"]
    assert "printf" in data["detail"]
    assert secret not in data["detail"]
    clean = tmp_path / "clean.secret"
    clean.write_text(secret)
    code, data = run_json(
        cli, "token", "sign", "--key", str(clean), "--alg", "HS256", "--claims", "{}"
    )
    assert code == 0, data


def test_accounts_create_refuses_a_secret_file_ending_in_a_newline(
    cli: Any, account_id: str, tmp_path: Path
) -> None:
    """`accounts create --secret-file` refuses a text secret with a trailing newline (exit 2)
    and creates nothing."""
    echoed = tmp_path / "echoed.secret"
    echoed.write_text("s" * 64 + "\n")
    code, data = run_json(
        cli, "accounts", "create", account_id, "--method", "symmetric", "--alg", "HS256",
        "--secret-file", str(echoed),
    )  # fmt: skip
    assert (code, data["code"]) == (2, "USAGE_ERROR")
    assert "ends with a newline" in data["detail"]
    code, data = run_json(cli, "accounts", "show", account_id)
    assert (code, data["code"]) == (1, "ACCOUNT_NOT_FOUND")


def test_accounts_update_refuses_a_secret_file_ending_in_a_newline(
    cli: Any, account_id: str, tmp_path: Path
) -> None:
    """`accounts update --secret-file` refuses it too, and keeps the current secret."""
    code, _ = run_json(
        cli, "accounts", "create", account_id, "--method", "symmetric", "--alg", "HS256"
    )
    assert code == 0
    echoed = tmp_path / "echoed.secret"
    echoed.write_text("t" * 64 + "\r\n")
    code, data = run_json(cli, "accounts", "update", account_id, "--secret-file", str(echoed))
    assert (code, data["code"]) == (2, "USAGE_ERROR")
    assert "ends with a newline" in data["detail"]


def test_a_binary_secret_ending_in_0x0a_is_used_as_is(cli: Any, tmp_path: Path) -> None:
    """Only a text secret is checked: random bytes that happen to end in 0x0a still sign."""
    binary = tmp_path / "binary.secret"
    binary.write_bytes(bytes(range(200, 231)) + b"\x00\n")
    code, data = run_json(
        cli, "token", "sign", "--key", str(binary), "--alg", "HS256", "--claims", "{}"
    )
    assert code == 0, data


def test_no_vault_credentials_says_so_and_how_to_get_them(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without VAULT_TOKEN or AppRole in the environment (.data/env not sourced), the
    refusal says no credentials were found and how to get them (still exit 4)."""
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.vault-token for hvac to fall back on
    for name in ("VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_TOKEN_FILE",
                 "VAULT_ROLE_ID_FILE", "VAULT_SECRET_ID_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    code, data = run_json(cli, "accounts", "list")
    assert (code, data["code"]) == (4, "VAULT_FORBIDDEN")
    assert "no Vault credentials were found" in data["detail"]
    assert "source .data/env" in data["detail"]
    assert "VAULT_TOKEN" in data["detail"]


def test_token_verify_without_vault_credentials_says_so(
    cli: Any, account_id: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`token verify` without credentials is not "UNKNOWN ... retry later" (exit 3): it
    says no credentials were found, exit 4."""
    create_ec_account(cli, account_id)
    token = signed(cli, claims())
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID"):
        monkeypatch.delenv(name, raising=False)
    code, data = run_json(
        cli, "token", "verify", "--account", account_id, "--campaign", "1001", token
    )
    assert (code, data["code"]) == (4, "VAULT_FORBIDDEN")
    assert "no Vault credentials were found" in data["detail"]
    assert "retry" not in data["detail"]


def test_a_bad_vault_token_gets_no_missing_credentials_hint(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token Vault refuses is a different cause: no "no credentials" hint then."""
    monkeypatch.setenv("VAULT_TOKEN", "not-a-real-token")
    code, data = run_json(cli, "accounts", "list")
    assert (code, data["code"]) == (4, "VAULT_FORBIDDEN")
    assert "no Vault credentials" not in data["detail"]


def test_accounts_update_without_an_option_is_refused(cli: Any, account_id: str) -> None:
    """`accounts update ID` with nothing to change is a usage error naming the options,
    not "updated account"."""
    create_ec_account(cli, account_id)
    code, out, err = cli("accounts", "update", account_id)
    assert code == 2
    assert out == ""
    assert err.startswith("error: USAGE_ERROR: nothing to update")
    for option in ("--alg", "--pem", "--leeway", "--enable", "--keycloak"):
        assert option in err
    assert "--json" not in err


def test_accounts_update_with_a_negated_flag_is_a_change(cli: Any, account_id: str) -> None:
    """`--no-require-exp` gives False, an option's value like any other: the update runs
    (an earlier check took False for "not given" and refused it)."""
    create_ec_account(cli, account_id)
    assert cli("accounts", "update", account_id, "--require-exp")[0] == 0
    code, data = run_json(cli, "accounts", "update", account_id, "--no-require-exp")
    assert code == 0, data
    assert data["account"]["policy"]["require_exp"] is False


def test_keys_list_of_an_unknown_account_says_it_does_not_exist(cli: Any) -> None:
    """`keys list nobody` is ACCOUNT_NOT_FOUND "no account 'nobody'", not "has no key"."""
    code, data = run_json(cli, "keys", "list", "nobody")
    assert (code, data["code"]) == (1, "ACCOUNT_NOT_FOUND")
    assert data["detail"] == "no account 'nobody'"


def test_keys_list_shows_when_retired_versions_were_made(cli: Any, account_id: str) -> None:
    """After retirement, `keys list` still prints every version's creation time."""
    create_ec_account(cli, account_id)
    assert cli("keys", "rotate", account_id)[0] == 0
    assert cli("keys", "rotate", account_id)[0] == 0
    assert cli("keys", "retire", account_id, "--below", "3", "--yes")[0] == 0
    code, data = run_json(cli, "keys", "list", account_id)
    assert code == 0
    assert [(v["version"], v["status"]) for v in data["versions"]] == [
        (3, "encrypt"), (2, "retired"), (1, "retired"),
    ]  # fmt: skip
    assert all(v["created_at"] for v in data["versions"])
    code, out, _ = cli("keys", "list", account_id)
    assert " -  " not in out


def test_key_type_has_help() -> None:
    """`accounts create --help` explains --key-type."""
    text = build_parser_help("accounts", "create")
    assert "Transit key" in text.split("--key-type", 2)[2]


@pytest.mark.parametrize(
    ("command", "value", "fragment"),
    [
        ("create", "-5", "the leeway is 0 to 3600 seconds"),
        ("create", "soon", "not a whole number of seconds"),
        ("update", "-5", "the leeway is 0 to 3600 seconds"),
        ("update", "4000", "the leeway is 0 to 3600 seconds"),
    ],
)
def test_bad_leeway_is_refused_in_our_words(
    cli: Any, account_id: str, command: str, value: str, fragment: str
) -> None:
    """--leeway out of range is a usage error in our wording, not msgspec's."""
    argv = ["accounts", command, account_id, "--leeway", value]
    if command == "create":
        argv += list(EC_ACCOUNT)
    code, _, err = cli(*argv)
    assert code == 2
    assert fragment in err
    assert "Expected" not in err
    assert "$." not in err


def test_unreachable_vault_exits_3(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With Vault unreachable, commands exit 3 (retry later) with VAULT_UNAVAILABLE."""
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:9")
    code, data = run_json(cli, "accounts", "list")
    assert (code, data["code"]) == (3, "VAULT_UNAVAILABLE")


def test_verify_with_unreachable_vault_is_unknown(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The player's check says UNKNOWN (exit 3) when it cannot reach Vault."""
    token = signed(cli, claims())
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:9")
    code, data = run_json(cli, "token", "verify", "--account", "acme", "--campaign", "1001", token)
    assert (code, data["code"]) == (3, "UNKNOWN")


def test_usage_error_exits_2(cli: Any) -> None:
    """An unknown option is a usage error (exit 2)."""
    assert cli("accounts", "create", "x", "--method", "nope", "--alg", "ES256")[0] == 2


def test_console_script_without_traceback(settings: Settings) -> None:
    """The installed tokenctl script reports failures in one line, never a traceback."""
    script = Path(sys.executable).parent / "tokenctl"
    env = {
        **os.environ,
        "VAULT_ADDR": settings.vault_addr,
        "VAULT_TOKEN": settings.vault_token or "",
    }
    result = subprocess.run(
        [str(script), "accounts", "show", "no-such-account"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == "error: ACCOUNT_NOT_FOUND: no account 'no-such-account'\n"
    help_text = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("vault", "accounts", "keys", "token"):
        assert command in help_text


@pytest.mark.parametrize(
    "argv",
    [
        ["keys", "list", "no-such-account"],
        ["keys", "rotate", "no-such-account"],
        ["keys", "retire", "no-such-account", "--below", "2", "--yes"],
        ["accounts", "show", "no-such-account"],
        ["accounts", "disable", "no-such-account"],
        ["token", "seal", "--account", "no-such-account", "a.b.c"],
    ],
    ids=["keys-list", "keys-rotate", "keys-retire", "show", "disable", "seal"],
)
def test_unknown_account_json_failure(cli: Any, argv: list[str]) -> None:
    """Every command on an unknown account exits 1 with ACCOUNT_NOT_FOUND as JSON."""
    code, data = run_json(cli, *argv)
    assert (code, data["ok"], data["code"]) == (1, False, "ACCOUNT_NOT_FOUND")


def test_json_flag_before_the_command(cli: Any) -> None:
    """--json works before the command too (tokenctl --json accounts list)."""
    code, out, _ = cli("--json", "accounts", "list")
    assert code == 0
    assert json.loads(out)["ok"] is True


def test_bootstrap_with_a_weak_token_exits_4(
    cli: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bootstrap with a token that may not manage mounts exits 4 with VAULT_FORBIDDEN."""
    root = hvac.Client(url=settings.vault_addr, token=settings.vault_token)
    weak = root.auth.token.create(policies=["admin"], ttl="5m")["auth"]["client_token"]
    monkeypatch.setenv("VAULT_TOKEN", weak)
    code, data = run_json(cli, "vault", "bootstrap")
    assert (code, data["code"]) == (4, "VAULT_FORBIDDEN")


def test_token_sign_kid_and_expiry(cli: Any) -> None:
    """--kid goes into the header; --expires-in sets exp (and iat) from now."""
    code, data = run_json(
        cli,
        "token",
        "sign",
        "--key",
        EC_PRIVATE,
        "--alg",
        "ES256",
        "--kid",
        "k-1",
        "--claims",
        '{"sub": "p"}',
        "--expires-in",
        "120",
    )
    assert code == 0
    header_b64, payload_b64, _ = data["token"].split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=="))
    assert header == {"alg": "ES256", "typ": "JWT", "kid": "k-1"}
    assert payload["exp"] - payload["iat"] == 120


@pytest.mark.parametrize(
    ("claims_arg", "fragment"),
    [("not json", "not JSON"), ("[1, 2]", "JSON object")],
    ids=["not-json", "not-object"],
)
def test_token_sign_bad_claims(cli: Any, claims_arg: str, fragment: str) -> None:
    """Claims that are not a JSON object are a usage error (exit 2) with a reason."""
    code, data = run_json(
        cli, "token", "sign", "--key", EC_PRIVATE, "--alg", "ES256", "--claims", claims_arg
    )
    assert (code, data["code"]) == (2, "USAGE_ERROR")
    assert fragment in data["detail"]


def test_accounts_update_changes_only_what_is_given(cli: Any, account_id: str) -> None:
    """update replaces the algorithms and issuer and keeps the rest; the verifier sees it."""
    rsa_public = str(KEYS / "rsa-2048-public.pem")
    code, _, err = cli(
        "accounts", "create", account_id, "--method", "public_key", "--pem", rsa_public,
        "--alg", "RS256", "--issuer", "https://old.example", "--leeway", "30",
    )  # fmt: skip
    assert code == 0, err
    code, data = run_json(
        cli, "accounts", "update", account_id, "--alg", "RS256", "--alg", "RS512",
        "--issuer", "", "--max-lifetime", "600",
    )  # fmt: skip
    assert code == 0, data
    account = data["account"]
    assert account["validation"]["algorithms"] == ["RS256", "RS512"]
    assert account["issuer"] is None
    assert account["policy"] == {
        "leeway": 30,
        "require_exp": False,
        "max_lifetime": 600,
        "jwt_bearer": "allowed",
    }
    assert account["validation"]["public_key_pem"].startswith("-----BEGIN PUBLIC KEY")
    code, data = run_json(cli, "accounts", "update", account_id, "--max-lifetime", "0")
    assert data["account"]["policy"]["max_lifetime"] is None


def test_accounts_update_refuses_what_does_not_fit(cli: Any, account_id: str) -> None:
    """Options of another method, an algorithm of another family and a method switch
    without its material are refused with the account's code; nothing is written."""
    create_ec_account(cli, account_id)
    code, data = run_json(cli, "accounts", "update", account_id, "--jwks-uri", "https://x.example")
    assert (code, data["code"]) == (1, "ACCOUNT_INVALID")
    assert "--jwks-uri does not apply to a public_key account" in data["detail"]
    code, data = run_json(cli, "accounts", "update", account_id, "--alg", "HS256")
    assert (code, data["code"]) == (1, "ACCOUNT_INVALID")
    code, data = run_json(cli, "accounts", "update", account_id, "--method", "jwks")
    assert (code, data["code"]) == (1, "ACCOUNT_INVALID")
    code, data = run_json(cli, "accounts", "show", account_id)
    assert data["account"]["validation"]["algorithms"] == ["ES256"]
    code, data = run_json(cli, "accounts", "update", "no-such-account", "--leeway", "5")
    assert (code, data["code"]) == (1, "ACCOUNT_NOT_FOUND")


def test_accounts_update_new_secret_switch_method_and_enable(cli: Any, account_id: str) -> None:
    """A new HMAC secret is printed once and replaces the old (old tokens are refused);
    switching method works with its material; a disabled account can be enabled again."""
    code, data = run_json(
        cli, "accounts", "create", account_id, "--method", "symmetric", "--alg", "HS256"
    )
    old_secret = data["secret"]
    code, data = run_json(cli, "accounts", "update", account_id, "--new-secret")
    assert code == 0
    new_secret = data["secret"]
    assert new_secret != old_secret
    assert new_secret not in json.dumps(data["account"])
    code, out, _ = cli("accounts", "show", account_id)
    assert new_secret not in out

    code, data = run_json(
        cli, "accounts", "update", account_id, "--method", "public_key", "--pem", EC_PUBLIC,
        "--alg", "ES256",
    )  # fmt: skip
    assert (code, data["account"]["validation"]["method"]) == (0, "public_key")
    cli("accounts", "disable", account_id)
    code, data = run_json(cli, "accounts", "update", account_id, "--enable")
    assert (code, data["account"]["status"]) == (0, "active")


def test_token_inspect_is_labelled_unverified(cli: Any, account_id: str) -> None:
    """inspect shows header and claims of a JWS (any signature: nothing is checked), only
    the header and kid of a JWE, and refuses a malformed token with the verifier's code."""
    token = signed(cli, claims(exp=2_000_000_000))
    forged = token[: token.rindex(".") + 1] + "AAAA"
    code, out, _ = cli("token", "inspect", forged)
    assert code == 0
    assert out.startswith("UNVERIFIED JWS")
    assert "2033-05-18T03:33:20+00:00 (in " in out
    code, data = run_json(cli, "token", "inspect", forged)
    assert data["verified"] is False
    assert data["claims"]["sub"] == claims()["sub"]

    create_ec_account(cli, account_id)
    code, out, _ = cli("token", "seal", "--account", account_id, token)
    code, data = run_json(cli, "token", "inspect", "-", stdin=out)
    assert (data["kind"], data["sealed_for"]) == (
        "JWE",
        {"account": account_id, "key_version": "1"},
    )
    assert "claims" not in data
    code, data = run_json(cli, "token", "inspect", "not.a-token")
    assert (code, data["code"]) == (1, "TOKEN_INVALID_FORMAT")


def test_keys_retire_shows_the_impact(
    cli: Any, account_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """retire names the versions it retires and says outstanding tokens are not tracked;
    at a terminal it asks for the account id and does nothing on a wrong answer."""
    create_ec_account(cli, account_id)
    cli("keys", "rotate", account_id)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:  # a terminal cannot be had in a test; this stands in
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("wrong-id\n"))
    code, out, err = cli("keys", "retire", account_id, "--below", "2")
    assert code == 1
    assert "versions [1] stops opening with TOKEN_DECRYPTION_FAILED" in err
    assert "not tracked" in err
    assert "NOT_CONFIRMED" in err
    monkeypatch.setattr(sys, "stdin", Terminal(f"{account_id}\n"))
    code, out, err = cli("keys", "retire", account_id, "--below", "2")
    assert code == 0, err
    assert "versions below 2 are retired" in out
    code, data = run_json(cli, "keys", "retire", account_id, "--below", "2", "--yes")
    assert (data["retired_now"], data["outstanding_tokens"]) == ([], None)


def test_accounts_update_does_not_undo_a_concurrent_change(
    cli: Any, account_id: str, vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another operator disables the account between update's read and its write: the
    update fails with ACCOUNT_CONFLICT and the disable stands."""
    create_ec_account(cli, account_id)
    read = AccountStore.get_versioned

    def read_then_someone_disables(self: AccountStore, wanted: str) -> tuple[Any, int]:
        result = read(self, wanted)
        AccountStore(vault).disable(wanted)  # a real write in Vault, in between
        return result

    monkeypatch.setattr(AccountStore, "get_versioned", read_then_someone_disables)
    code, data = run_json(cli, "accounts", "update", account_id, "--leeway", "5")
    assert (code, data["code"]) == (1, "ACCOUNT_CONFLICT")
    monkeypatch.setattr(AccountStore, "get_versioned", read)
    code, data = run_json(cli, "accounts", "show", account_id)
    assert data["account"]["status"] == "disabled"
    assert data["account"]["policy"]["leeway"] == 60


def test_accounts_update_new_secret_and_secret_file_exclude_each_other(
    cli: Any, account_id: str
) -> None:
    """Both at once would print a secret that is not the one stored: a usage error."""
    code, _, err = cli("accounts", "update", account_id, "--new-secret", "--secret-file", EC_PUBLIC)
    assert code == 2
    assert "not allowed with argument" in err


def test_accounts_create_refuses_an_exportable_key(
    cli: Any, settings: Settings, store: AccountStore, account_id: str
) -> None:
    """A planted exportable Transit key makes `accounts create` fail with the reason, and no
    account document is written."""
    client = hvac.Client(url=settings.vault_addr, token=settings.vault_token)
    client.secrets.transit.create_key(f"account-{account_id}", key_type="rsa-2048", exportable=True)
    code, data = run_json(cli, "accounts", "create", account_id, *EC_ACCOUNT)
    assert (code, data["code"]) == (1, "KEY_OPERATION_REFUSED")
    assert "exportable" in data["detail"]
    assert account_id not in store.list()


def test_bootstrap_binds_approles_to_networks(
    private_bao: DevServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`vault bootstrap --approle-cidr` makes Vault refuse the roles' secret ids from other
    networks; a second bootstrap with loopback's network lets the same secret ids in again."""
    monkeypatch.setenv("VAULT_ADDR", private_bao.addr)
    monkeypatch.setenv("VAULT_TOKEN", private_bao.token)
    cli = in_process_cli(monkeypatch, capsys)
    creds = tmp_path / "approle"
    code, _, err = cli(
        "vault", "bootstrap", "--approle-dir", str(creds), "--approle-cidr", "10.0.0.0/8"
    )
    assert code == 0, err

    def login() -> dict[str, Any]:
        role_id = (creds / "crypto-api.role-id").read_text().strip()
        secret_id = (creds / "crypto-api.secret-id").read_text().strip()
        client = hvac.Client(url=private_bao.addr)
        return dict(client.auth.approle.login(role_id, secret_id))

    with pytest.raises(hvac.exceptions.InvalidRequest):  # Vault: 400, source address refused
        login()
    code, _, err = cli("vault", "bootstrap", "--approle-cidr", "127.0.0.0/8")
    assert code == 0, err
    assert login()["auth"]["token_policies"] == ["crypto-api"]


@pytest.mark.parametrize("value", ["10.0.0.1/8", "not-a-network", "10.0.0.0/33"])
def test_bootstrap_refuses_a_bad_network(cli: Any, value: str) -> None:
    """An --approle-cidr that is not a network is a usage error (exit 2), nothing written."""
    code, _, err = cli("vault", "bootstrap", "--approle-cidr", value)
    assert code == 2
    assert "not a network" in err


def test_accounts_jwt_bearer_policy(cli: Any, account_id: str) -> None:
    """--jwt-bearer sets the account's jwt-bearer policy on create and update; show prints
    it; an update without the flag keeps it; an unknown value is a usage error."""
    code, data = run_json(
        cli, "accounts", "create", account_id, "--method", "public_key", "--pem", EC_PUBLIC,
        "--alg", "ES256", "--jwt-bearer", "disabled",
    )  # fmt: skip
    assert code == 0, data
    assert data["account"]["policy"]["jwt_bearer"] == "disabled"
    code, data = run_json(cli, "accounts", "update", account_id, "--jwt-bearer", "require_aud")
    assert data["account"]["policy"]["jwt_bearer"] == "require_aud"
    code, data = run_json(cli, "accounts", "update", account_id, "--leeway", "10")
    assert data["account"]["policy"]["jwt_bearer"] == "require_aud"
    code, out, _ = cli("accounts", "show", account_id)
    assert code == 0
    assert "jwt-bearer  require_aud" in out
    code, _, err = cli("accounts", "update", account_id, "--jwt-bearer", "sometimes")
    assert code == 2
    assert "--jwt-bearer" in err


@pytest.mark.parametrize(
    "argv", [["rotate", "nobody"], ["retire", "nobody", "--below", "2", "--yes"]]
)
def test_keys_rotate_and_retire_of_an_unknown_account(cli: Any, argv: list[str]) -> None:
    """`keys rotate|retire nobody` also name the missing account, not a missing key."""
    code, data = run_json(cli, "keys", *argv)
    assert (code, data["code"]) == (1, "ACCOUNT_NOT_FOUND")
    assert data["detail"] == "no account 'nobody'"


def test_token_sign_hs256_with_a_short_secret_is_refused(cli: Any, tmp_path: Path) -> None:
    """A secret shorter than 112 bits is refused (exit 2) with joserfc's reason, rather
    than signed with its SecurityWarning on the terminal."""
    short = tmp_path / "short.secret"
    short.write_bytes(b"\x01\x02\x03")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, data = run_json(
            cli, "token", "sign", "--key", str(short), "--alg", "HS256", "--claims", "{}"
        )
    assert (code, data["code"]) == (2, "USAGE_ERROR")
    assert "112 bits" in data["detail"]
