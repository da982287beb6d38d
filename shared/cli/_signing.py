"""Reading the customer's signing key for ``token sign``, ``token encrypt`` and
``encrypt-file``: a PEM private key (RS*/ES*) or a raw HMAC secret file (HS*).

Every problem with the file is the caller's typing mistake: :class:`UsageError` (exit 2).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OctKey, RSAKey

from shared.cli._output import UsageError

__all__ = ["check_secret_text", "signing_key"]

_PEM_MARKER = b"-----BEGIN "


def check_secret_text(data: bytes, path: str) -> None:
    """Refuse an HMAC secret file whose text ends with a newline (``echo SECRET > FILE``).

    The file's bytes are the key: a newline kept would make every signature differ from
    the customer's (``TOKEN_INVALID_SIGNATURE``), and one silently dropped would make the
    account's key differ from the file others sign with. Only a *text* secret is checked
    (a random binary secret may end in the byte 0x0a by chance).
    """
    body = data.removesuffix(b"\n").removesuffix(b"\r")
    if body == data or not body:
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return
    if text.isprintable():
        raise UsageError(
            f"the secret file {path!r} ends with a newline (as `echo` writes): it would be "
            "part of the HMAC key. Write the secret without one: "
            f"printf '%s' SECRET > {path}"
        )


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read key file {path!r}: {exc.strerror}") from None


def signing_key(path: str, alg: str) -> RSAKey | ECKey | OctKey:
    """The customer's private key (PEM) or HMAC secret (raw bytes), as ``token sign`` reads it.

    Raises:
        UsageError: the file is unreadable, not a key for ``alg`` (a PEM key for HS*, an
            RSA key for ES*...), a public key, or a text secret ending with a newline.
    """
    data = _read(path)
    if alg.startswith("HS"):
        if _PEM_MARKER in data:
            # joserfc would take the PEM text as the HMAC secret (with a SecurityWarning).
            raise UsageError(
                f"{path!r} is a PEM key: {alg} signs with the account's raw HMAC secret "
                "(the file holding only the secret's bytes); RS*/ES* take a PEM key"
            )
        check_secret_text(data, path)
    try:
        # A SecurityWarning (a secret shorter than 112 bits, a key-looking secret) is a
        # refusal here, not a line on the terminal that the token then silently ignores.
        with warnings.catch_warnings():
            warnings.simplefilter("error", SecurityWarning)
            key: RSAKey | ECKey | OctKey
            if alg.startswith("HS"):
                key = OctKey.import_key(data)
            elif alg.startswith("RS"):
                key = RSAKey.import_key(data)
            else:
                key = ECKey.import_key(data)
    except SecurityWarning as warning:
        raise UsageError(f"{path!r} is not a secret usable with {alg}: {warning}") from None
    except Exception as exc:
        raise UsageError(f"{path!r} is not a private key usable with {alg}") from exc
    if not isinstance(key, OctKey) and not key.is_private:
        raise UsageError(f"{path!r} is a public key; signing needs the private key")
    try:  # now, rather than as a failure of the first row or of the exchange
        jwt.encode({"alg": alg}, {}, key, algorithms=[alg])
    except Exception as exc:
        raise UsageError(f"cannot sign {alg} with {path!r}: {exc}") from exc
    return key
