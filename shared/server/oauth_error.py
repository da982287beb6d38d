"""The error ``/oauth/token`` answers with, raised by the token service and by the issuer
backends (built-in or Keycloak), which therefore need not import the service itself."""

from __future__ import annotations

from shared.wire import OAuthErrorCode

__all__ = ["OAuthError"]


class OAuthError(Exception):
    """An RFC 6749 §5.2 error, plus our ``code`` (a DESIGN §2 token code or an
    infrastructure code) and, for 429/503, ``retry_after`` seconds."""

    def __init__(
        self,
        error: OAuthErrorCode,
        description: str,
        code: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.code = code
        self.retry_after = retry_after
