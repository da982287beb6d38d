"""Errors of the Keycloak backend, under the library's one tree (:mod:`shared.errors`).

::

    ServiceError
    └── KeycloakError                 KEYCLOAK_ERROR
        ├── KeycloakUnavailable       KEYCLOAK_UNAVAILABLE (unreachable, timed out, 5xx; retryable)
        ├── KeycloakRefused           KEYCLOAK_REFUSED     (a 4xx: ``status``, ``error``,
        │                                                   ``description`` as Keycloak said)
        └── KeycloakConflict          KEYCLOAK_CONFLICT    (the realm holds something we would
                                                            overwrite: not ours, or not as we
                                                            expect; nothing was changed)

A missing python-keycloak is a :class:`~shared.errors.ConfigurationError` (the extra is not
installed), raised only when a Keycloak feature is used.
"""

from __future__ import annotations

from shared.errors import ServiceError

__all__ = ["KeycloakConflict", "KeycloakError", "KeycloakRefused", "KeycloakUnavailable"]


class KeycloakError(ServiceError):
    """Base of the Keycloak backend's errors."""

    code = "KEYCLOAK_ERROR"


class KeycloakUnavailable(KeycloakError):
    """Keycloak did not answer usefully: connection refused, timeout, 5xx, not JSON."""

    code = "KEYCLOAK_UNAVAILABLE"
    retryable = True


class KeycloakRefused(KeycloakError):
    """Keycloak answered a 4xx; its OAuth ``error`` and ``error_description`` (or the admin
    API's ``errorMessage``) are kept."""

    code = "KEYCLOAK_REFUSED"

    def __init__(
        self, detail: str, *, status: int, error: str | None = None, description: str = ""
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.description = description


class KeycloakConflict(KeycloakError):
    """The realm holds an object we would have to overwrite that is not ours."""

    code = "KEYCLOAK_CONFLICT"
