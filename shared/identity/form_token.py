"""The form token: what binds a submitted form to the identification that produced it.

A compact JWE (``dir``, ``A256GCM``) under the player's form key: authenticated, so nobody
can change the subject, account, campaign or limits it carries, and encrypted, so the
prefilled values it keeps (to tell later which fields the participant changed) are not
readable in the page's source. Short-lived (``FORM_TTL``), and single-use: its ``jti`` is
spent with the participation it records (:mod:`shared.identity.participations`).
"""

from __future__ import annotations

import base64
import secrets
from typing import Annotated, Final

import msgspec
from joserfc import jwe
from joserfc.jwk import OctKey

from shared.identity.errors import FormInvalid
from shared.identity.prefill import FieldValue

__all__ = ["FORM_TTL", "FormClaims", "FormKeys", "FormTokens"]

#: Seconds a participant has to fill the form once identified.
FORM_TTL: Final = 1800
_ALGORITHMS: Final = ["dir", "A256GCM"]
_MAX_CHARS: Final = 64 * 1024


class FormClaims(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a form token says: who was identified, for which campaign, with what."""

    acct: str
    cmp: str
    sub: str
    jti: str
    iat: int
    exp: int
    #: ``limit.nb`` of the token (None: no limit); ``limit.canPlay`` is false -> no form.
    nb: Annotated[int, msgspec.Meta(ge=0)] | None = None
    prefill: dict[str, FieldValue] = {}


class FormKeys(msgspec.Struct, frozen=True):
    """The player's form keys, newest first: ``(kid, 32 raw bytes)``; tokens are made with
    the first and opened with any (a rotation keeps forms already shown usable)."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys or any(len(raw) != 32 for _, raw in self.keys):
            raise ValueError("form keys: at least one, each 32 bytes")


class FormTokens:
    """Make and open form tokens with ``keys``."""

    def __init__(self, keys: FormKeys) -> None:
        self._current = keys.keys[0][0]
        self._keys = {kid: OctKey.import_key(raw) for kid, raw in keys.keys}

    def issue(
        self,
        *,
        account: str,
        campaign: str,
        subject: str,
        now: float,
        limit: int | None,
        prefilled: dict[str, FieldValue],
    ) -> tuple[str, FormClaims]:
        """A new form token and what it says."""
        claims = FormClaims(
            acct=account,
            cmp=campaign,
            sub=subject,
            jti=secrets.token_urlsafe(18),
            iat=int(now),
            exp=int(now) + FORM_TTL,
            nb=limit,
            prefill=prefilled,
        )
        header = {"alg": "dir", "enc": "A256GCM", "kid": self._current}
        token = jwe.encrypt_compact(
            header, msgspec.json.encode(claims), self._keys[self._current], algorithms=_ALGORITHMS
        )
        return token, claims

    def open(self, token: str, *, account: str, campaign: str, now: float) -> FormClaims:
        """What ``token`` says, if it is ours, unexpired, and for this account and campaign.

        Raises:
            FormInvalid: anything else (one sentence for every case but expiry).
        """
        if not token or len(token) > _MAX_CHARS:
            raise FormInvalid("the form is missing its token: reload the campaign")
        try:
            header = msgspec.json.decode(
                base64.urlsafe_b64decode(_pad(token.split(".", maxsplit=1)[0]))
            )
            key = self._keys[header["kid"]]
            plaintext = jwe.decrypt_compact(token, key, algorithms=_ALGORITHMS).plaintext
            claims = msgspec.json.decode(plaintext or b"", type=FormClaims)
        except Exception:  # noqa: BLE001 - every malformed or forged token is the same refusal
            raise FormInvalid("this form was not made by the player: reload the campaign") from None
        if claims.acct != account or claims.cmp != campaign:
            raise FormInvalid("this form was made for another campaign: reload the campaign")
        if now >= claims.exp:
            raise FormInvalid("this form has expired: reload the campaign and submit again")
        return claims


def _pad(segment: str) -> bytes:
    return (segment + "=" * (-len(segment) % 4)).encode("ascii")
