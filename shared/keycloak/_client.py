"""The only module that imports python-keycloak, lazily: the package works without it.

python-keycloak is the optional extra ``keycloak``. It is imported on first use of a
Keycloak feature, never when :mod:`shared` or the apps are imported, and a missing package
is a :class:`~shared.errors.ConfigurationError` that says which extra to install.

Its exceptions are mapped here, once (``raise Mapped(...) from exc``):

- ``KeycloakConnectionError``, an HTTP 5xx, an answer of the wrong shape
  → :class:`KeycloakUnavailable` (retryable);
- any other ``KeycloakError`` (a 4xx) → :class:`KeycloakRefused`, with the OAuth ``error`` /
  ``error_description`` of a token endpoint answer (RFC 6749 §5.2, Keycloak's
  ``OAuth2ErrorRepresentation``) or the admin API's ``errorMessage``.
"""

from __future__ import annotations

import importlib
import json
import math
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, Final, TypeVar

from shared.errors import ConfigurationError
from shared.keycloak._errors import KeycloakRefused, KeycloakUnavailable
from shared.keycloak._realm import AdminCredentials, KeycloakRealm

__all__ = ["TokenClient", "admin_client", "call", "python_keycloak"]

T = TypeVar("T")
_INSTALL: Final = "pip install 'secure-token-services[keycloak]'"
#: Keycloak's messages are echoed to operators and customers: bounded.
_MAX_DESCRIPTION: Final = 300


def python_keycloak() -> ModuleType:
    """The ``keycloak`` package (python-keycloak), imported now.

    Raises:
        ConfigurationError: python-keycloak is not installed.
    """
    try:
        return importlib.import_module("keycloak")
    except ImportError as exc:
        raise ConfigurationError(
            f"the Keycloak backend needs python-keycloak, the 'keycloak' extra: {_INSTALL}"
        ) from exc


def _reason(body: object) -> tuple[str | None, str]:
    """``(error, description)`` of an error body, whatever its shape."""
    try:
        data = json.loads(body) if isinstance(body, bytes | str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return None, ""
    error = data.get("error")
    description = data.get("error_description") or data.get("errorMessage") or ""
    return (
        error if isinstance(error, str) else None,
        str(description)[:_MAX_DESCRIPTION],
    )


def call(what: str, fn: Callable[[], T]) -> T:
    """Run one python-keycloak call, mapping its errors.

    Raises:
        KeycloakUnavailable: unreachable, 5xx, or an answer of the wrong shape.
        KeycloakRefused: a 4xx.
        ConfigurationError: python-keycloak is not installed.
    """
    exceptions = importlib.import_module(python_keycloak().__name__ + ".exceptions")
    try:
        return fn()
    except exceptions.KeycloakConnectionError as exc:
        raise KeycloakUnavailable(f"{what}: Keycloak cannot be reached") from exc
    except exceptions.KeycloakError as exc:
        status = exc.response_code
        if not isinstance(status, int) or status >= 500:
            raise KeycloakUnavailable(f"{what}: Keycloak answered HTTP {status}") from exc
        error, description = _reason(exc.response_body)
        said = ": ".join(part for part in (error, description) if part)
        raise KeycloakRefused(
            f"{what}: Keycloak refused (HTTP {status}{', ' + said if said else ''})",
            status=status,
            error=error,
            description=description,
        ) from exc
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # python-keycloak raises these on answers of an unexpected type or shape.
        raise KeycloakUnavailable(f"{what}: unexpected answer from Keycloak") from exc


def _timeout(realm: KeycloakRealm) -> int:
    # python-keycloak types its timeout as whole seconds.
    return max(1, math.ceil(realm.timeout))


class TokenClient:
    """Calls to the realm's token endpoint, through python-keycloak's ``KeycloakOpenID``.

    ``KeycloakOpenID.token`` adds and removes a ``Content-Type`` header on its connection
    around each call, so one instance must not serve two threads at once: each thread gets
    its own (and with it its own connection pool). The ``client_id`` of a request is given
    per call, so one instance serves every client.
    """

    def __init__(self, realm: KeycloakRealm) -> None:
        self.realm = realm
        self._local = threading.local()

    def _openid(self) -> Any:
        openid = getattr(self._local, "openid", None)
        if openid is None:
            openid = python_keycloak().KeycloakOpenID(
                server_url=self.realm.server_url,
                realm_name=self.realm.realm,
                client_id=self.realm.broker_client_id,
                verify=self.realm.cacert or True,
                timeout=_timeout(self.realm),
                # Never resend a token request: the first may have consumed the client
                # assertion's jti, and the retry would then be refused as a replay.
                max_retries=0,
            )
            self._local.openid = openid
        return openid

    def token(self, grant_type: str, **form: str) -> dict[str, Any]:
        """POST the realm's token endpoint; ``form`` carries ``client_id``, the client
        assertion and the grant's own parameters.

        Raises:
            KeycloakUnavailable, KeycloakRefused, ConfigurationError.
        """
        openid = self._openid()
        scope = form.pop("scope", "")
        answer = call(
            "token endpoint", lambda: openid.token(grant_type=grant_type, scope=scope, **form)
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
            raise KeycloakUnavailable("token endpoint: the answer has no access_token")
        return answer


def admin_client(realm: KeycloakRealm, credentials: AdminCredentials) -> Any:
    """A python-keycloak ``KeycloakAdmin`` on ``realm``, logging in (lazily, on its first
    call) with ``credentials`` in their own realm.

    Raises:
        ConfigurationError: python-keycloak is not installed.
    """
    return python_keycloak().KeycloakAdmin(
        server_url=realm.server_url,
        realm_name=realm.realm,
        user_realm_name=credentials.realm,
        client_id=credentials.client_id or "admin-cli",
        client_secret_key=credentials.client_secret,
        username=credentials.username,
        password=credentials.password,
        verify=realm.cacert or True,
        timeout=_timeout(realm),
    )
