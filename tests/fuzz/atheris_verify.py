"""Coverage-guided fuzzing of token parsing and verification (atheris, i.e. libFuzzer).

Not part of the test suite: it runs until stopped or time-bounded, and needs the ``fuzz``
extra (a compiled wheel)::

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python -m tests.fuzz.atheris_verify -max_total_time=60

Any libFuzzer flag may follow (``-runs=N``, ``-jobs=2``, a corpus directory to keep what it
finds...). Offline and Vault-free: every step of the player's verifier but the account lookup
(:func:`tests.fuzz.corpus.verify_offline`: format gate, JWE opening with an in-memory Transit,
signature, claim rules) for two accounts held in memory, plus the claim rules and the client
assertion rules on JSON inputs. Any exception other than a
:class:`~shared.errors.TokenError` (carrying a DESIGN §2 code other than ``UNKNOWN``) is a
crash: libFuzzer stops and writes the input as ``crash-<sha1>`` under ``-artifact_prefix``
(by default a fresh temporary directory, printed at start, rather than the work tree).

The first byte of an input picks what is fuzzed; the rest is the token (or the JSON claims).
The seed corpus (valid JWS and JWE of both accounts, and a few refused tokens) is generated at
start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import tempfile
import time
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["shared", "joserfc", "tests.fuzz.corpus"]):
    from shared.errors import TokenError
    from shared.server.client_assertion import check_client_assertion
    from shared.tokens.claims import check_claims
    from shared.tokens.verification import SignedJws
    from tests.fuzz.corpus import (
        CAMPAIGN,
        CODES,
        HMAC_SECRET,
        customer_jwe,
        public_key_account,
        seed_tokens,
        symmetric_account,
        verify_offline,
    )

#: The clock every check runs at: a crash replays the same way later.
NOW = int(time.time())
ACCOUNTS = (public_key_account(), symmetric_account())
#: What the first byte of an input selects (modulo their number). The ``signed-*`` and
#: ``encrypted`` modes make the rest of the input authentic (HS256 with the account's
#: secret, or a customer JWE with its key), as a customer holding the keys could: the
#: fuzzer then reaches the header, claim and inner-token rules, not only the format gate.
MODES = (
    "verify-es256",
    "verify-hs256",
    "verify-es256-text",
    "claims",
    "signed-payload",
    "signed-header",
    "encrypted",
)


def _check_code(exc: TokenError) -> None:
    if exc.code not in CODES or exc.code == "UNKNOWN":
        raise AssertionError(f"{exc!r}: not a code of DESIGN §2 for a token refused offline")


def test_one_input(data: bytes) -> None:
    """One input: any exception but a TokenError with a DESIGN §2 code is a crash."""
    if not data:
        return
    mode, rest = MODES[data[0] % len(MODES)], data[1:]
    try:
        if mode == "claims":
            _claims(rest)
        elif mode == "signed-payload":
            verify_offline(_hs256(_HS256_HEADER, b64(rest)), ACCOUNTS[1], now=NOW)
        elif mode == "signed-header":
            verify_offline(_hs256(b64(rest), _GOOD_PAYLOAD), ACCOUNTS[1], now=NOW)
        elif mode == "encrypted":
            verify_offline(customer_jwe(rest, ACCOUNTS[1]), ACCOUNTS[1], now=NOW)
        elif mode == "verify-es256-text":
            # The verifier also takes text: what a decoder that tolerates bad UTF-8 gives.
            verify_offline(rest.decode("utf-8", "replace"), ACCOUNTS[0], now=NOW)
        else:
            verify_offline(rest, ACCOUNTS[mode == "verify-hs256"], now=NOW)
    except TokenError as exc:
        _check_code(exc)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_HS256_HEADER = b64(b'{"alg":"HS256","typ":"JWT"}')
_GOOD_PAYLOAD = b64(json.dumps({"sub": "s", "campaignId": CAMPAIGN, "exp": NOW + 60}).encode())


def _hs256(header: str, payload: str) -> str:
    """A JWS over any header and payload segments, signed with the HS256 account's secret."""
    mac = hmac.new(HMAC_SECRET, f"{header}.{payload}".encode("ascii"), hashlib.sha256)
    return f"{header}.{payload}.{b64(mac.digest())}"


def _claims(data: bytes) -> None:
    try:
        claims = json.loads(data)
    except (ValueError, RecursionError):
        return
    if not isinstance(claims, dict):
        return
    check_claims(claims, account=ACCOUNTS[0], campaign_id=CAMPAIGN, now=NOW)
    signed = SignedJws(
        account=ACCOUNTS[0], header={"alg": "ES256"}, claims=claims, algorithm="ES256"
    )
    check_client_assertion(
        signed, client_id="fuzz-es256", audiences={"https://authz.test"}, now=NOW
    )


def seed_corpus(directory: Path) -> None:
    """Write the seed corpus: each seed token for each verify mode, and claim sets."""
    for index, token in enumerate(seed_tokens(NOW)):
        for mode in range(3):
            (directory / f"seed-{index}-{mode}").write_bytes(bytes([mode]) + token.encode())
    claims = json.dumps(
        {"sub": "s", "campaignId": CAMPAIGN, "iss": "fuzz-es256", "exp": NOW + 60, "jti": "j"}
    ).encode()
    header = json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k"}).encode()
    for mode, content in [
        ("claims", claims),
        ("signed-payload", claims),
        ("signed-header", header),
        ("encrypted", seed_tokens(NOW)[0].encode()),
        ("encrypted", claims),
    ]:
        name = f"seed-{mode}-{len(content)}"
        (directory / name).write_bytes(bytes([MODES.index(mode)]) + content)


#: libFuzzer dictionary: the words of the formats, so that mutations speak JOSE and JSON.
DICTIONARY = (
    *("alg", "enc", "kid", "typ", "cty", "crit", "zip", "jku", "x5u", "jwk", "x5c", "b64"),
    *("ES256", "HS256", "RS256", "none", "dir", "A256KW", "A256GCM", "RSA-OAEP-256", "JWT"),
    *("sub", "campaignId", "exp", "nbf", "iat", "iss", "aud", "jti", "profile", "gift"),
    *("1e400", "-1e400", "1e308", "9007199254740993", "-0", "0.5", "null", "true", "[]", "{}"),
    *('":', '",', "eyJ", "fuzz-es256/1", "fuzz-hs256", ".", "=", "+", "/"),
)


def write_dictionary(path: Path) -> None:
    """:data:`DICTIONARY` in libFuzzer's format (one quoted entry per line)."""
    lines = [f"w{index}={json.dumps(word)}" for index, word in enumerate(DICTIONARY)]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def main(argv: list[str]) -> None:
    """Run libFuzzer with ``argv``'s flags, on the seed corpus unless a corpus is given, with
    :data:`DICTIONARY` unless a ``-dict`` is."""
    args = list(argv)
    work = Path(tempfile.mkdtemp(prefix="atheris-verify-"))
    if not any(not arg.startswith("-") for arg in args[1:]):
        corpus = work / "corpus"
        corpus.mkdir()
        seed_corpus(corpus)
        args.append(str(corpus))
    if not any(arg.startswith("-artifact_prefix=") for arg in args):
        args.append(f"-artifact_prefix={work}/")
    if not any(arg.startswith("-dict=") for arg in args):
        write_dictionary(work / "jose.dict")
        args.append(f"-dict={work / 'jose.dict'}")
    print(f"atheris_verify: corpus and crashes under {work}", file=sys.stderr)
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
