"""What only the APIs run: the token service (``/oauth/token``), client assertions, bearer
issuing and checking, the encrypt service, the replay store, rate limits and the batch
signer. Never imported by the player's core (``shared.tokens``) or by ``shared.client``.

The face is lazy (:mod:`shared._lazy`): an issuer backend importing
``shared.server.oauth_error`` loads that module, not the token service and Redis with it.
The rate limits' buckets live in :mod:`shared.state` (``shared.server.rate_limits`` still
names them). ``replay_store()`` is not on the face: a lazy name equal to its module's would
be shadowed by the module once imported.
"""

from __future__ import annotations

import typing as _typing

from shared import _lazy

if _typing.TYPE_CHECKING:
    from shared.server.batch_signer import BatchSigner
    from shared.server.bearer_check import Bearer, BearerChecker, TrustedIssuer
    from shared.server.bearer_issuer import BearerIssuer, IssuedBearer
    from shared.server.encrypt_service import EncryptService
    from shared.server.oauth_error import OAuthError
    from shared.server.replay_store import ReplayStore
    from shared.server.token_service import TokenService

_FACE: dict[str, str] = {
    "BatchSigner": "shared.server.batch_signer",
    "Bearer": "shared.server.bearer_check",
    "BearerChecker": "shared.server.bearer_check",
    "BearerIssuer": "shared.server.bearer_issuer",
    "EncryptService": "shared.server.encrypt_service",
    "IssuedBearer": "shared.server.bearer_issuer",
    "OAuthError": "shared.server.oauth_error",
    "ReplayStore": "shared.server.replay_store",
    "TokenService": "shared.server.token_service",
    "TrustedIssuer": "shared.server.bearer_check",
}

__all__ = [
    "BatchSigner",
    "Bearer",
    "BearerChecker",
    "BearerIssuer",
    "EncryptService",
    "IssuedBearer",
    "OAuthError",
    "ReplayStore",
    "TokenService",
    "TrustedIssuer",
]

if not _typing.TYPE_CHECKING:
    __getattr__, __dir__ = _lazy.face(__name__, _FACE)
