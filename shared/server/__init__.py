"""What only the APIs run: the token service (``/oauth/token``), client assertions, bearer
issuing and checking, the encrypt service, the replay store, rate limits and the batch
signer. Never imported by the player's core (``shared.tokens``) or by ``shared.client``."""

from shared.server.batch_signer import BatchSigner
from shared.server.bearer_check import Bearer, BearerChecker, TrustedIssuer
from shared.server.bearer_issuer import BearerIssuer, IssuedBearer
from shared.server.encrypt_service import EncryptService
from shared.server.oauth_error import OAuthError
from shared.server.rate_limits import RateLimiter
from shared.server.replay_store import ReplayStore, replay_store
from shared.server.token_service import TokenService

__all__ = [
    "BatchSigner",
    "Bearer",
    "BearerChecker",
    "BearerIssuer",
    "EncryptService",
    "IssuedBearer",
    "OAuthError",
    "RateLimiter",
    "ReplayStore",
    "TokenService",
    "TrustedIssuer",
    "replay_store",
]
