"""`tokenctl encrypt-file` through both APIs served over real HTTP: rows, resuming, failures."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest

from shared import Settings, Verifier
from shared.cli._progress_bar import ProgressBar
from shared.client import BulkOptions, RetryPolicy, rows
from shared.client import bulk_encrypt as bulk
from shared.client.errors import ApiRefused
from shared.wire import Encrypted, ItemError
from tests.support.apis import (
    Apis,
    CliResult,
    HmacAccount,
    serve_apis,
)
from tests.support.openbao import free_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.tokens import claims, sign

Cli = Callable[..., CliResult]
OTHER_SECRET = b"not the account's secret, 32 b.."


@pytest.fixture(scope="module")
def apis(settings: Settings, vault: object) -> Iterator[Apis]:
    """Both APIs; the Crypto API's batch rate limit is on, but high enough for 100,000 rows."""
    with serve_apis(
        settings, crypto_batch_rate_per_second=100_000.0, crypto_batch_rate_burst=20_000
    ) as running:
        yield running


def key_args(account: HmacAccount) -> list[str]:
    return ["--key", str(account.key_file), "--alg", "HS256"]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    with path.open("w") as file:
        for row in rows:
            file.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def read_out(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def by_row(lines: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The output lines keyed by row, after checking that no row appears twice."""
    counts = Counter(line["row"] for line in lines)
    assert [row for row, n in counts.items() if n > 1] == []
    return {line["row"]: line for line in lines}


def encrypt_file(cli: Cli, apis: Apis, account: HmacAccount, *argv: str) -> tuple[int, Any]:
    """Run encrypt-file in-process with --json; returns (exit code, the JSON summary)."""
    code, out, err = cli("encrypt-file", *argv, *apis.args(account.id), "--json")
    assert "Traceback" not in err
    return code, json.loads(out)


def test_jsonl_tokens_and_refusals_without_key(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path, verifier: Verifier
) -> None:
    """JSONL rows with tokens: good ones become JWEs of the account's key, refused ones
    carry their exact code, unusable lines ROW_INVALID; without --key the bearer comes from
    the file's first tokens that the Authorization API accepts (row 1's is garbage)."""
    expired = hmac_account.token(iat=1, exp=2)
    forged = sign(claims(), "HS256", OTHER_SECRET)
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"token": "garbage", "_id": "a"},
            {"token": hmac_account.token(sub="p-2"), "_id": "b"},
            {"token": expired, "_id": "c"},
            "",  # blank lines are not rows
            {"token": forged, "_id": "d"},
            "[1, 2]",
            "{not json",
            {"token": 42},
            {"token": "  "},
        ],
    )
    out = tmp_path / "out.jsonl"
    code, summary = encrypt_file(
        cli, apis, hmac_account, str(source), str(out), "--id-field", "_id"
    )
    assert code == 0, summary
    lines = by_row(read_out(out))
    assert sorted(lines) == list(range(1, 9))
    codes = {row: line.get("error", {}).get("code") for row, line in lines.items()}
    assert codes == {
        1: "TOKEN_INVALID_FORMAT",
        2: None,
        3: "TOKEN_EXPIRED",
        4: "TOKEN_INVALID_SIGNATURE",
        5: "ROW_INVALID",
        6: "ROW_INVALID",
        7: "ROW_INVALID",
        8: "TOKEN_EMPTY",
    }
    assert [lines[n].get("id") for n in range(1, 9)] == ["a", "b", "c", "d"] + [None] * 4
    assert lines[2]["kid"] == f"{hmac_account.id}/1"
    opened = verifier.verify(lines[2]["token"], account_id=hmac_account.id, campaign_id="1001")
    assert opened.subject == "p-2"
    assert summary["ok"] is True
    assert (summary["total"], summary["encrypted"], summary["refused"]) == (8, 1, 7)
    assert summary["refused_by_code"]["ROW_INVALID"] == 3
    assert summary["refused_rows"]["ROW_INVALID"] == [5, 6, 7]
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_csv_rows_signed_with_key(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path, verifier: Verifier
) -> None:
    """CSV rows without a token column are signed with --key: columns become claims
    ('a.b' nests, ':json' parses, exp is a number, '_' columns and empty cells are left
    out), --campaign fills campaignId, --expires-in sets exp; bad rows are ROW_INVALID."""
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["_id", "sub", "profile.email", "limit:json", "exp", "custom.tier"])
        writer.writerow(["r1", "p-1", "ada@example.com", '{"nb": 1, "canPlay": true}', "", "gold"])
        writer.writerow(["r2", "p-2", "", "", str(int(time.time()) + 99), ""])
        writer.writerow(["r3", "p-3", "x@example.com", "{oops", "", ""])
        writer.writerow(["r4", "p-4", "", "", "", "", "one cell too many"])
        writer.writerow(["r5", "p-5", "", "", "1", ""])  # expired long ago
    out = tmp_path / "out.jsonl"
    code, summary = encrypt_file(
        cli, apis, hmac_account, str(source), str(out), *key_args(hmac_account),
        "--campaign", "777", "--expires-in", "600", "--id-field", "_id",
    )  # fmt: skip
    assert code == 0, summary
    lines = by_row(read_out(out))
    assert [lines[n]["id"] for n in range(1, 6)] == ["r1", "r2", "r3", "r4", "r5"]
    assert [lines[n].get("error", {}).get("code") for n in range(1, 6)] == [
        None,
        None,
        "ROW_INVALID",
        "ROW_INVALID",
        "TOKEN_EXPIRED",
    ]
    first = verifier.verify(lines[1]["token"], account_id=hmac_account.id, campaign_id="777")
    assert first.subject == "p-1"
    assert first.profile == {"email": "ada@example.com"}
    assert first.claims["limit"] == {"nb": 1, "canPlay": True}
    assert first.custom == {"tier": "gold"}
    assert first.claims["exp"] - first.claims["iat"] == 600
    assert "_id" not in first.claims
    second = verifier.verify(lines[2]["token"], account_id=hmac_account.id, campaign_id="777")
    assert "profile" not in second.claims
    assert second.claims["exp"] > time.time() + 60  # the row's own exp wins over --expires-in


def test_csv_token_column_used_as_is(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """A CSV with a token column sends each token as is, even with --key (which then only
    makes the client assertion); an empty cell is TOKEN_EMPTY."""
    source = tmp_path / "in.csv"
    source.write_text(f"email,token\na@x.org,{hmac_account.token()}\nb@x.org,\n")
    out = tmp_path / "out.jsonl"
    code, _ = encrypt_file(
        cli, apis, hmac_account, str(source), str(out), *key_args(hmac_account),
        "--id-field", "email",
    )  # fmt: skip
    assert code == 0
    lines = by_row(read_out(out))
    assert (lines[1]["id"], lines[1]["kid"]) == ("a@x.org", f"{hmac_account.id}/1")
    assert (lines[2]["id"], lines[2]["error"]["code"]) == ("b@x.org", "TOKEN_EMPTY")


def test_torn_last_line_is_repaired(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """A last line cut short (a run killed while writing) is dropped on rerun and its row
    done again: every row exactly once, every line valid JSON."""
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"sub": f"p-{i}", "campaignId": 1} for i in range(20)]
    )
    out = tmp_path / "out.jsonl"
    assert (
        encrypt_file(cli, apis, hmac_account, str(source), str(out), *key_args(hmac_account))[0]
        == 0
    )
    data = out.read_bytes()
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[1]
    torn_row = json.loads(last)["row"]
    out.write_bytes(data[: len(data) - len(last) // 2 - 1])
    code, summary = encrypt_file(
        cli, apis, hmac_account, str(source), str(out), *key_args(hmac_account)
    )
    assert code == 0
    assert (summary["repaired"], summary["written"], summary["already_done"]) == (True, 1, 19)
    lines = by_row(read_out(out))
    assert sorted(lines) == list(range(1, 21))
    assert "token" in lines[torn_row]


def test_rerun_of_a_finished_file_does_nothing(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """Once every row is in OUT, a rerun leaves it byte for byte and calls no API (both
    URLs point at closed ports here)."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"token": hmac_account.token()}] * 3)
    out = tmp_path / "out.jsonl"
    assert encrypt_file(cli, apis, hmac_account, str(source), str(out))[0] == 0
    before = out.read_bytes()
    closed = f"http://127.0.0.1:{free_port()}"
    code, out_text, err = cli(
        "encrypt-file", str(source), str(out), "--account", hmac_account.id,
        "--authz-url", closed, "--crypto-url", closed, "--json",
    )  # fmt: skip
    summary = json.loads(out_text)
    assert code == 0, err
    assert (summary["written"], summary["already_done"], summary["not_done"]) == (0, 3, 0)
    assert out.read_bytes() == before


def test_transient_failures_are_not_written_then_rerun(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """With the Crypto API unreachable, rows are not written (only the locally refused one
    is), the summary lists them with their code and the exit code is 3; a rerun with the
    API back finishes the file, each row once."""
    rows: list[Any] = [{"sub": f"p-{i}", "campaignId": 1} for i in range(10)]
    rows[2] = "not json"
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    code, out_text, err = cli(
        "encrypt-file", str(source), str(out), *key_args(hmac_account),
        "--account", hmac_account.id, "--authz-url", apis.authz_url,
        "--crypto-url", f"http://127.0.0.1:{free_port()}",
        "--retries", "1", "--batch-size", "4", "--concurrency", "1", "--json",
    )  # fmt: skip
    summary = json.loads(out_text)
    assert code == 3, err
    assert (summary["ok"], summary["code"]) == (False, "ROWS_NOT_DONE")
    assert summary["not_done"] == 9
    assert summary["failed_by_code"] == {"API_UNREACHABLE": 3}  # the first batch, less row 3
    assert summary["failed_rows"] == [1, 2, 4]
    assert [line["row"] for line in read_out(out)] == [3]
    code, text, _ = cli(
        "encrypt-file", str(source), str(out), *key_args(hmac_account),
        "--account", hmac_account.id, "--authz-url", apis.authz_url,
        "--crypto-url", f"http://127.0.0.1:{free_port()}", "--retries", "0",
        "--batch-size", "4", "--concurrency", "1",
    )  # fmt: skip
    assert code == 3
    assert "not done: 9 rows (API_UNREACHABLE 4, not attempted 5); failed rows 1, 2, 4, 5" in text
    assert "rerun the same command to finish" in text

    code, text, err = cli(
        "encrypt-file", str(source), str(out), *key_args(hmac_account), *apis.args(hmac_account.id),
        "--batch-size", "4",
    )  # fmt: skip
    assert code == 0, err
    assert "10 rows: 9 encrypted, 1 refused, 0 not done" in text
    assert "resuming: 1 of 10 rows already done" in err
    assert sorted(by_row(read_out(out))) == list(range(1, 11))


def test_text_summary_and_progress(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """Without --json the summary lists refusals by code with example rows; progress goes
    to stderr, the summary to stdout."""
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"token": "x"}, {"token": hmac_account.token()}, {"token": "y"}]
    )
    code, out, err = cli(
        "encrypt-file", str(source), str(tmp_path / "o.jsonl"), *apis.args(hmac_account.id),
        *key_args(hmac_account),
    )  # fmt: skip
    assert code == 0
    assert "3 rows: 1 encrypted, 2 refused, 0 not done" in out
    assert "TOKEN_INVALID_FORMAT" in out
    assert "rows 1, 3" in out
    assert "3/3 100%" in err


def test_rate_limit_is_waited_out(
    settings: Settings, cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """Against a Crypto API limited to 1,000 tokens/s (burst 1,000), 3,000 rows all succeed:
    the 429s are waited out (Retry-After), never turned into failed rows."""
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"sub": f"p-{i}", "campaignId": 1} for i in range(3000)]
    )
    out = tmp_path / "out.jsonl"
    # The batch budget: batch tokens no longer spend the single calls' (CRYPTO_RATE_LIMIT_*).
    with serve_apis(
        settings, crypto_batch_rate_per_second=1000.0, crypto_batch_rate_burst=1000
    ) as limited:
        started = time.monotonic()
        code, summary = encrypt_file(
            cli, limited, hmac_account, str(source), str(out), *key_args(hmac_account),
            "--batch-size", "250", "--retries", "0",
        )  # fmt: skip
    assert code == 0, summary
    assert (summary["encrypted"], summary["not_done"]) == (3000, 0)
    assert time.monotonic() - started >= 1.9  # 2,000 tokens beyond the burst at 1,000/s
    assert sorted(by_row(read_out(out))) == list(range(1, 3001))


def test_batches_over_the_server_limit_are_split(
    settings: Settings, cli: Cli, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """A --batch-size above the server's CRYPTO_BATCH_MAX is split (413) instead of failing."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"token": hmac_account.token()}] * 250)
    out = tmp_path / "out.jsonl"
    with serve_apis(settings, crypto_rate_per_second=0.0, batch_max=40) as small:
        code, summary = encrypt_file(
            cli, small, hmac_account, str(source), str(out), "--batch-size", "200"
        )
    assert code == 0, summary
    assert summary["encrypted"] == 250


@pytest.mark.parametrize(
    ("name", "content", "extra", "code_expected", "fragment"),
    [
        ("in.jsonl", '{"sub": "p", "campaignId": 1}\n', [], "INPUT_INVALID", "--key"),
        ("in.txt", "", [], "INPUT_INVALID", ".csv or .jsonl"),
        ("in.csv", "a,a\n1,2\n", [], "INPUT_INVALID", "twice"),
        ("in.csv", "token\nx\n", ["--id-field", "email"], "INPUT_INVALID", "'email'"),
        ("missing.jsonl", None, [], "INPUT_INVALID", "cannot read"),
        ("in.jsonl", '{"token": "x"}\n', ["--batch-size", "0"], "USAGE_ERROR", "--batch-size"),
    ],
    ids=["claims-without-key", "extension", "duplicate-column", "no-id-column", "missing", "batch"],
)
def test_input_problems_are_usage_errors(
    cli: Cli,
    apis: Apis,
    hmac_account: HmacAccount,
    tmp_path: Path,
    name: str,
    content: str | None,
    extra: list[str],
    code_expected: str,
    fragment: str,
) -> None:
    """Input that cannot be processed as asked exits 2 with a one-line reason, and writes
    no row."""
    source = tmp_path / name
    if content is not None:
        source.write_text(content)
    out = tmp_path / "out.jsonl"
    code, summary = encrypt_file(cli, apis, hmac_account, str(source), str(out), *extra)
    assert (code, summary["code"]) == (2, code_expected)
    assert fragment in summary["detail"]
    assert not out.exists() or out.read_text() == ""


def test_a_second_run_on_the_same_output_is_refused(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """While a run holds OUT (an exclusive lock), another one is refused with
    OUTPUT_INVALID (exit 2) and writes nothing: two runs would write rows twice."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"token": hmac_account.token()}])
    out = tmp_path / "out.jsonl"
    with out.open("ab") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code, summary = encrypt_file(cli, apis, hmac_account, str(source), str(out))
    assert (code, summary["code"]) == (2, "OUTPUT_INVALID")
    assert "another run" in summary["detail"]
    assert out.read_text() == ""


def test_output_of_another_input_is_refused(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """An OUT holding rows the input does not have, or a line that is not ours, is not
    resumed (exit 2, OUTPUT_INVALID) and is left untouched."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"token": "x"}])
    out = tmp_path / "out.jsonl"
    out.write_text('{"row": 7, "token": "t", "kid": "k"}\n')
    code, summary = encrypt_file(cli, apis, hmac_account, str(source), str(out))
    assert (code, summary["code"]) == (2, "OUTPUT_INVALID")
    assert "another input" in summary["detail"]
    out.write_text("hello\n")
    code, summary = encrypt_file(cli, apis, hmac_account, str(source), str(out))
    assert (code, summary["code"]) == (2, "OUTPUT_INVALID")
    assert out.read_text() == "hello\n"


def test_refused_credentials_stop_the_run(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """A client assertion signed with the wrong key is refused by the Authorization API:
    the run stops with that code (exit 1) and writes nothing for the rows."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"token": hmac_account.token()}] * 5)
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(OTHER_SECRET)
    out = tmp_path / "out.jsonl"
    code, summary = encrypt_file(
        cli, apis, hmac_account, str(source), str(out), "--key", str(wrong), "--alg", "HS256"
    )
    assert (code, summary["code"]) == (1, "TOKEN_INVALID_SIGNATURE")
    assert not out.exists()


def test_a_run_failing_before_any_row_leaves_no_trace(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """Bad credentials refused before any row is done: no "done" progress line, and no
    empty OUT left behind (this run created it); the error says why."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"token": hmac_account.token()}] * 2000)
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(OTHER_SECRET)
    out = tmp_path / "out.jsonl"
    code, stdout, err = cli(
        "encrypt-file", str(source), str(out), *apis.args(hmac_account.id),
        "--key", str(wrong), "--alg", "HS256",
    )  # fmt: skip
    assert code == 1
    assert stdout == ""
    assert "done" not in err
    assert "0/2,000" not in err
    assert err.startswith("error: TOKEN_INVALID_SIGNATURE: ")
    assert not out.exists()


def test_a_failed_run_keeps_an_output_it_did_not_create(
    cli: Cli, apis: Apis, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """An OUT that existed before the run (even empty) is the user's: a failure leaves it."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"token": hmac_account.token()}] * 3)
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(OTHER_SECRET)
    out = tmp_path / "out.jsonl"
    out.touch(mode=0o600)
    code, _ = encrypt_file(
        cli, apis, hmac_account, str(source), str(out), "--key", str(wrong), "--alg", "HS256"
    )
    assert code == 1
    assert out.exists()


def test_progress_bar_stopped_on_a_terminal_clears_its_line() -> None:
    """A bar stopped (failed run) never prints "done" and clears its line on a terminal."""
    stream = TtyBuffer()
    bar = ProgressBar(stream, interval=0.01)
    bar.start(2000, 0)
    time.sleep(0.05)
    bar.stop()
    text = stream.getvalue()
    assert "done" not in text
    assert text.endswith("\r\x1b[K")


# --- the acceptance test ----------------------------------------------------------------

ROWS = 100_000
#: Row number modulo 1000 -> the code that row must end with (None: encrypted).
BAD_ROWS = {
    1: "TOKEN_EXPIRED",
    2: "TOKEN_INVALID_FORMAT",
    3: "TOKEN_INVALID_SIGNATURE",
    4: "TOKEN_INVALID_CLAIMS",
    5: "ROW_INVALID",
}


def acceptance_input(path: Path, account: HmacAccount) -> None:
    """100,000 distinct rows: most are claims that encrypt-file signs; one in 200 is bad
    in one of five ways; one in 1000 is a ready-made good token."""
    with path.open("w") as file:
        for n in range(1, ROWS + 1):
            kind = n % 1000
            row: Any
            if kind == 1:
                row = {"_id": f"r{n}", "token": account.token(sub=f"p{n}", iat=1, exp=2)}
            elif kind == 2:
                row = {"_id": f"r{n}", "token": f"garbage-{n}"}
            elif kind == 3:
                row = {"_id": f"r{n}", "token": sign(claims(sub=f"p{n}"), "HS256", OTHER_SECRET)}
            elif kind == 4:
                row = {"_id": f"r{n}", "sub": f"p{n}"}  # no campaignId
            elif kind == 5:
                row = [n]
            elif kind == 6:
                row = {"_id": f"r{n}", "token": account.token(sub=f"p{n}")}
            else:
                row = {"_id": f"r{n}", "sub": f"p{n}", "campaignId": "1001"}
            file.write(json.dumps(row) + "\n")


def count_lines_until(path: Path, target: int, process: subprocess.Popen[bytes]) -> int:
    """Poll ``path`` (reading only what was appended) until it holds ``target`` lines."""
    lines, offset = 0, 0
    deadline = time.monotonic() + 120
    while lines < target:
        assert process.poll() is None, "encrypt-file ended before it could be killed"
        assert time.monotonic() < deadline
        if path.exists():
            with path.open("rb") as file:
                file.seek(offset)
                chunk = file.read()
            offset += len(chunk)
            lines += chunk.count(b"\n")
        time.sleep(0.02)
    return lines


def test_acceptance_killed_halfway_and_rerun(
    apis: Apis, hmac_account: HmacAccount, tmp_path: Path, verifier: Verifier
) -> None:
    """100,000 rows, SIGKILLed once about half are written, then rerun: every row is in
    OUT exactly once, bad rows carry their exact codes, all others a JWE under the
    account's key, and a sample of JWEs opens with the player's verifier."""
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    acceptance_input(source, hmac_account)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "AUTHZ_"))}
    env.update(AUTHZ_ISSUER=apis.authz_url, CRYPTO_URL=apis.crypto_url)
    argv = [
        str(Path(sys.executable).parent / "tokenctl"),
        "encrypt-file",
        str(source),
        str(out),
        "--account",
        hmac_account.id,
        *key_args(hmac_account),
        "--expires-in",
        "3600",
        "--id-field",
        "_id",
    ]
    started = time.monotonic()
    with (tmp_path / "first.err").open("wb") as first_err:
        first = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=first_err)
        try:
            count_lines_until(out, ROWS // 2, first)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
    assert first.returncode == -signal.SIGKILL
    assert b"Traceback" not in (tmp_path / "first.err").read_bytes()
    killed_after = time.monotonic() - started

    rerun = subprocess.run(
        [*argv, "--json"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    elapsed = time.monotonic() - started
    assert rerun.returncode == 0, rerun.stderr
    assert "Traceback" not in rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["already_done"] >= ROWS // 2
    assert summary["already_done"] + summary["written"] == ROWS
    expected_codes = dict.fromkeys(BAD_ROWS.values(), ROWS // 1000)
    assert summary["refused_by_code"] == expected_codes
    assert summary["refused_rows"]["TOKEN_EXPIRED"] == list(range(1, 10_000, 1000))
    assert (summary["encrypted"], summary["not_done"]) == (ROWS - 500, 0)

    lines = by_row(read_out(out))
    assert sorted(lines) == list(range(1, ROWS + 1))
    kid = f"{hmac_account.id}/1"
    for n, line in lines.items():
        code = BAD_ROWS.get(n % 1000)
        if code is None:
            assert (line["kid"], line["id"]) == (kid, f"r{n}")
            assert line["token"].count(".") == 4
        else:
            assert line["error"]["code"] == code, (n, line)
    good = [n for n in lines if n % 1000 not in BAD_ROWS]
    for n in good[:: len(good) // 20]:
        opened = verifier.verify(lines[n]["token"], account_id=hmac_account.id, campaign_id="1001")
        assert opened.subject == f"p{n}"
    print(  # the measured figures, for the report (pytest -s)
        f"\n100k rows: killed after {killed_after:.1f} s, done after {elapsed:.1f} s; rerun "
        f"{summary['written']} rows at {summary['rows_per_second']:.0f} rows/s"
    )


def test_connections_cut_mid_run_are_retried_without_duplicates(
    apis: Apis, hmac_account: HmacAccount, tmp_path: Path
) -> None:
    """The Crypto API cut off for a second in the middle of a run (connections reset, some
    answers lost after the server did the work): the retries carry the run through, and
    every row is in OUT exactly once."""
    rows = 20_000
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"sub": f"p{n}", "campaignId": 1} for n in range(rows)]
    )
    out = tmp_path / "out.jsonl"
    port = int(apis.crypto_url.rsplit(":", 1)[1])
    with TcpProxy("127.0.0.1", port) as proxy:
        argv = [
            str(Path(sys.executable).parent / "tokenctl"), "encrypt-file", str(source), str(out),
            *apis.args(hmac_account.id), "--crypto-url", proxy.addr, *key_args(hmac_account),
            "--batch-size", "200", "--json",
        ]  # fmt: skip
        with (tmp_path / "err").open("wb") as err:
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
            try:
                count_lines_until(out, rows // 4, process)
                proxy.stop()
                time.sleep(1.0)
                proxy.start()
                stdout, _ = process.communicate(timeout=120)
            finally:
                process.kill()
                process.wait()
    assert process.returncode == 0, (tmp_path / "err").read_text()
    summary = json.loads(stdout)
    assert (summary["encrypted"], summary["not_done"]) == (rows, 0)
    assert sorted(by_row(read_out(out))) == list(range(1, rows + 1))


class FlakyItems:
    """Answers UNKNOWN for chosen tokens (a per-item outage the real API reports for the
    whole batch instead), else a fake JWE: the bulk logic must never write UNKNOWN."""

    def __init__(self, unknown_times: dict[str, int]) -> None:
        self.unknown_times = unknown_times
        self.calls: list[list[str]] = []

    def encrypt_batch(self, tokens: Sequence[str]) -> list[Encrypted | ItemError]:
        self.calls.append(list(tokens))
        results: list[Encrypted | ItemError] = []
        for token in tokens:
            if self.unknown_times.get(token, 0) > 0:
                self.unknown_times[token] -= 1
                results.append(ItemError(code="UNKNOWN", detail="retry later"))
            else:
                results.append(Encrypted(token=f"jwe-of-{token}", kid="k/1"))
        return results


def test_items_answered_unknown_are_retried_never_written(tmp_path: Path) -> None:
    """An item answered UNKNOWN is sent again alone; once it succeeds it is written once;
    if it never does, it is not written and the run is incomplete (a rerun does it)."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"token": t} for t in ("a", "b", "c")])
    options = BulkOptions(retry=RetryPolicy(retries=2, base_delay=0.01))
    once = FlakyItems({"b": 1})
    summary = bulk.encrypt_file(source, tmp_path / "once.jsonl", once, options=options)
    assert summary.complete
    assert once.calls == [["a", "b", "c"], ["b"]]
    assert sorted(by_row(read_out(tmp_path / "once.jsonl"))) == [1, 2, 3]

    never = FlakyItems({"c": 99})
    summary = bulk.encrypt_file(source, tmp_path / "never.jsonl", never, options=options)
    assert (summary.complete, summary.not_done, summary.failed_by_code) == (
        False,
        1,
        {"UNKNOWN": 1},
    )
    assert sorted(by_row(read_out(tmp_path / "never.jsonl"))) == [1, 2]
    assert len(never.calls) == 3


class PoisonedRows:
    """A batch holding a poisoned token fails as a whole with a 500 (a server-side bug the
    real API has no row to trigger), else every token gets a fake JWE."""

    def __init__(self, poisoned: set[str]) -> None:
        self.poisoned = poisoned
        self.calls: list[list[str]] = []

    def encrypt_batch(self, tokens: Sequence[str]) -> list[Encrypted | ItemError]:
        self.calls.append(list(tokens))
        if self.poisoned.intersection(tokens):
            raise ApiRefused("INTERNAL", "an unexpected failure", status=500)
        return [Encrypted(token=f"jwe-of-{token}", kid="k/1") for token in tokens]


def test_a_poisoned_row_is_isolated_by_bisection_and_the_rest_finished(
    tmp_path: Path,
) -> None:
    """A batch answered 500 is halved until each poisoned row is alone: those rows are
    recorded refused with the code, every other row is encrypted, the run completes."""
    tokens = [f"t{n}" for n in range(64)]
    source = write_jsonl(tmp_path / "in.jsonl", [{"token": t} for t in tokens])
    fake = PoisonedRows({"t5", "t40"})
    options = BulkOptions(batch_size=64, retry=RetryPolicy(retries=1, base_delay=0.01))
    summary = bulk.encrypt_file(source, tmp_path / "out.jsonl", fake, options=options)
    assert summary.complete, summary
    lines = read_out(tmp_path / "out.jsonl")
    refused = {line["row"]: line["error"]["code"] for line in lines if "error" in line}
    assert refused == {6: "INTERNAL", 41: "INTERNAL"}
    assert sorted(by_row(lines)) == list(range(1, 65))
    assert len(fake.calls) <= 1 + 2 * 2 * 6  # log2(64) levels, two halves, two rows


class TtyBuffer(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal() -> None:
    """On a terminal the bar redraws in place (carriage return) with done/total, percent,
    rate and ETA, and ends with a newline."""
    stream = TtyBuffer()
    bar = ProgressBar(stream, interval=0.01)
    bar.start(100, 10)
    bar.advance(40)
    time.sleep(0.1)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("resuming: 10 of 100 rows already done\n")
    assert "\r[" in text
    assert "50/100 50%" in text
    assert "rows/s" in text
    assert "ETA" in text
    assert text.endswith("done\x1b[K\n")


@pytest.mark.parametrize(
    "header",
    [["profile.email", "profile"], ["profile", "profile.email"], ["sub", "sub"]],
    ids=["leaf-after-nested", "nested-after-leaf", "same-column-twice"],
)
def test_csv_columns_that_collide_make_the_row_invalid(header: list[str]) -> None:
    """No CSV cell is dropped silently: two columns for one claim make the row unusable."""
    row = rows._csv_claims_row(1, msgspec.UNSET, header, ["a@example.com", "x"])
    assert row.problem is not None
    assert "set twice" in row.problem
