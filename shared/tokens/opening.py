"""Opening a JWE addressed to an account: ours (Transit) or the customer's (shared key).

Our JWEs: the CEK is unwrapped by ``transit/decrypt`` with the key version named in
``kid``, so the private key never leaves Vault; the content is then decrypted locally by
joserfc's A256GCM. The account in ``kid`` must be the account the caller expects: it
never chooses the key. Customer JWEs: the account's pinned ``alg``/``enc`` pair only.
"""

from __future__ import annotations

import re
from typing import Final

from joserfc import jwe
from joserfc.jwk import OctKey

from shared.accounts.document import Account
from shared.accounts.keys import KeyStore
from shared.algorithms import TRANSIT_JWE_ALG, TRANSIT_JWE_ENC
from shared.errors import TokenDecryptionFailed, VaultError, VerificationUnavailable
from shared.tokens.compact import CompactToken
from shared.vault import TransitDecryptRefused

__all__ = ["open_jwe"]

_KID: Final = re.compile(r"^([a-z0-9][a-z0-9_-]{0,62})/([1-9][0-9]{0,8})$")
_TRANSIT_REGISTRY: Final = jwe.JWERegistry(algorithms=[TRANSIT_JWE_ALG, TRANSIT_JWE_ENC])


def _open_transit(token: CompactToken, account: Account, keys: KeyStore) -> tuple[bytes, int]:
    header = token.header
    if header["enc"] != TRANSIT_JWE_ENC:
        raise TokenDecryptionFailed(f"enc {header['enc']!r} is not allowed with {TRANSIT_JWE_ALG}")
    # fullmatch: with match(), '$' also accepts a trailing newline ("acme/3\n").
    match = _KID.fullmatch(str(header.get("kid", "")))
    if match is None:
        raise TokenDecryptionFailed("kid must name the account and key version, like 'acme/3'")
    if match.group(1) != account.id:
        raise TokenDecryptionFailed("kid names another account")
    version = int(match.group(2))
    enc = _TRANSIT_REGISTRY.get_enc(TRANSIT_JWE_ENC)
    iv, ciphertext, tag = token.raw(2), token.raw(3), token.raw(4)
    wrapped = token.raw(1)
    # Checks that cost nothing come before the RSA decryption in Vault, so junk cannot be
    # used to spend Vault's (scarce) decrypt capacity.
    modulus_bytes = int(account.key_type.removeprefix("rsa-")) // 8
    if len(wrapped) != modulus_bytes:
        raise TokenDecryptionFailed("the encrypted key has the wrong length for this account")
    if len(iv) * 8 != enc.iv_size or len(tag) != 16:
        raise TokenDecryptionFailed("iv or tag has the wrong length")
    try:
        cek = keys.decrypt(account.id, version, wrapped)
    except TransitDecryptRefused as exc:
        raise TokenDecryptionFailed(f"key version {version} cannot open this token") from exc
    except VaultError as exc:
        raise VerificationUnavailable(f"cannot decrypt now ({exc.code}); retry later") from exc
    if len(cek) * 8 != enc.cek_size:
        raise TokenDecryptionFailed("the unwrapped key has the wrong length")
    aad = token.segments[0].encode("ascii")  # RFC 7516 §5.2 step 14
    try:
        return enc.decrypt(ciphertext, tag, cek, iv, aad), version
    except Exception as exc:
        raise TokenDecryptionFailed("authentication tag does not match") from exc


def _open_customer(token: CompactToken, account: Account) -> bytes:
    ce = account.customer_encryption
    alg, enc = token.header["alg"], token.header["enc"]
    if ce is None or (alg, enc) != (ce.alg, ce.enc):
        # The detail does not list what the account accepts: whoever holds a token need not
        # learn whether the account has a customer encryption key.
        raise TokenDecryptionFailed(f"JWE {alg}+{enc} is not accepted for this account")
    try:
        result = jwe.decrypt_compact(token.text, OctKey.import_key(ce.key), algorithms=[alg, enc])
    except Exception as exc:
        raise TokenDecryptionFailed("cannot decrypt with the account's encryption key") from exc
    return result.plaintext or b""


def open_jwe(token: CompactToken, account: Account, keys: KeyStore) -> tuple[bytes, int | None]:
    """Decrypt ``token`` for ``account``; returns the plaintext and our key version (if ours).

    Raises:
        TokenDecryptionFailed: alg/enc not allowed, kid for another account, unknown or
            retired key version, wrong key, bad tag or ciphertext.
        VerificationUnavailable: Vault could not be asked.
    """
    if token.header["alg"] == TRANSIT_JWE_ALG:
        return _open_transit(token, account, keys)
    return _open_customer(token, account), None
