"""The corpus itself: big enough, well labelled, honest about what its tokens are, and in
sync with tests/hostile/README.md."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

from tests.hostile.corpus import ATTACKS, CASES, REQUESTS, markdown
from tests.hostile.forge import Context
from tests.support.tokens import b64, unb64

README = Path(__file__).with_name("README.md")
BEGIN, END = "<!-- corpus:begin -->", "<!-- corpus:end -->"


def test_readme_tables_match_the_corpus() -> None:
    """README.md carries the tables `python -m tests.hostile.corpus --markdown` prints."""
    text = README.read_text()
    generated = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip("\n")
    assert generated == markdown().strip("\n"), (
        "README drifted: python -m tests.hostile.corpus --markdown"
    )


def test_corpus_is_large_and_every_case_is_labelled() -> None:
    """At least 80 tokens, unique stable ids, a known attack class and a reference each."""
    ids = [case.id for case in CASES] + [request.id for request in REQUESTS]
    assert len(CASES) >= 80
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9_-]*", i) for i in ids)
    assert {case.attack for case in CASES} == set(ATTACKS)
    assert all(re.search(r"RFC \d+|CVE-\d{4}-\d+|DESIGN", c.reference) for c in CASES)
    assert all(re.search(r"RFC \d+|CVE-\d{4}-\d+|DESIGN", r.reference) for r in REQUESTS)


def _header(token: str) -> dict[str, object]:
    return dict(json.loads(unb64(token.split(".", maxsplit=1)[0])))


def test_size_cases_sit_where_they_claim(corpus_tokens: dict[str, str]) -> None:
    """Size cases are just over their limits, and the bombs are under the token limit (so
    it is `zip` that refuses them, not their size)."""
    assert 16_384 < len(corpus_tokens["oversize-token-just-over-16k"]) <= 16_388
    assert len(unb64(corpus_tokens["oversize-header-2049-bytes"].split(".")[0])) == 2049
    for case in ("zip-bomb-transit-jwe", "zip-bomb-customer-jwe"):
        assert len(corpus_tokens[case]) < 16_384
        assert _header(corpus_tokens[case])["zip"] == "DEF"


def test_bomb_really_inflates_to_megabytes(hostile: Context, corpus_tokens: dict[str, str]) -> None:
    """The customer bomb, opened with the account's key, inflates to 10 MB, over 700 times
    the token's size: a real bomb, not a label. (joserfc itself stops inflating at 250 KB.)"""
    token = corpus_tokens["zip-bomb-customer-jwe"]
    header, wrapped, iv, ciphertext, tag = token.split(".")
    cek = aes_key_unwrap(hostile.customer_key, unb64(wrapped))
    deflated = AESGCM(cek).decrypt(unb64(iv), unb64(ciphertext) + unb64(tag), header.encode())
    assert len(zlib.decompress(deflated, -zlib.MAX_WBITS)) == 10_000_000 > 700 * len(token)


@pytest.mark.parametrize("case", ["ecdh-es-off-curve-epk", "ecdh-es-a256kw-off-curve-customer"])
def test_off_curve_points_are_off_the_curve(corpus_tokens: dict[str, str], case: str) -> None:
    """cryptography refuses the forged ephemeral key: it is not a P-256 point."""
    epk = _header(corpus_tokens[case])["epk"]
    assert isinstance(epk, dict)
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(unb64(epk["x"]), "big"), int.from_bytes(unb64(epk["y"]), "big"),
        ec.SECP256R1(),
    )  # fmt: skip
    with pytest.raises(ValueError, match="curve"):
        numbers.public_key()


def test_p2c_cases_carry_their_count(corpus_tokens: dict[str, str]) -> None:
    """The PBES2 cases ask for a billion iterations (hours of PBKDF2 if honoured)."""
    assert _header(corpus_tokens["p2c-billion"])["p2c"] == 10**9
    assert _header(corpus_tokens["p2c-billion"])["alg"] == "PBES2-HS256+A128KW"


@pytest.mark.parametrize(
    ("case", "index"),
    [("b64url-trailing-bits-signature", 2), ("b64url-trailing-bits-header", 0)],
)
def test_respelt_segments_decode_but_are_not_canonical(
    corpus_tokens: dict[str, str], case: str, index: int
) -> None:
    """The trailing-bits cases decode like any segment but re-encode differently: the same
    bytes spelt another way, not corrupt data."""
    segment = corpus_tokens[case].split(".")[index]
    assert b64(unb64(segment)) != segment
    assert b64(unb64(segment))[:-1] == segment[:-1]
