"""Keycloak as an optional identity backend (python-keycloak, the ``keycloak`` extra).

- **Provisioning** (:class:`KeycloakProvisioner`): an account mirrored into a realm as a
  confidential client with the customer's credential, plus a user for the exchange of
  secure tokens; drift reported by :meth:`KeycloakProvisioner.inspect`.
- **Issuing** (:class:`KeycloakBackend`, ``AUTHZ_BACKEND=keycloak``): client assertions
  passed through to the realm's token endpoint; verified secure tokens exchanged through
  Keycloak's JWT Authorization Grant.
- **Accepting** (:func:`keycloak_trusted_issuer`, ``CRYPTO_TRUSTED_ISSUERS``): the Crypto
  API checks the realm's bearers with its certs.

Importing this package never imports python-keycloak: :mod:`shared.keycloak._client` does,
on first use, and says which extra to install when it is missing.
"""

from shared.keycloak._assertions import AssertionSigner
from shared.keycloak._backend import KeycloakBackend
from shared.keycloak._client import TokenClient, admin_client, python_keycloak
from shared.keycloak._errors import (
    KeycloakConflict,
    KeycloakError,
    KeycloakRefused,
    KeycloakUnavailable,
)
from shared.keycloak._provisioning import Inspection, KeycloakProvisioner, SyncResult
from shared.keycloak._realm import AdminCredentials, KeycloakRealm, admin_credentials
from shared.keycloak._representation import (
    AUDIENCE_MAPPER,
    MANAGED_ATTRIBUTE,
    SCOPE_NAME,
    audience_mapper,
    desired_client,
    key_id,
)
from shared.keycloak._trust import KEYCLOAK_ALGORITHMS, keycloak_trusted_issuer

__all__ = [
    "AUDIENCE_MAPPER",
    "KEYCLOAK_ALGORITHMS",
    "MANAGED_ATTRIBUTE",
    "SCOPE_NAME",
    "AdminCredentials",
    "AssertionSigner",
    "Inspection",
    "KeycloakBackend",
    "KeycloakConflict",
    "KeycloakError",
    "KeycloakProvisioner",
    "KeycloakRealm",
    "KeycloakRefused",
    "KeycloakUnavailable",
    "SyncResult",
    "TokenClient",
    "admin_client",
    "admin_credentials",
    "audience_mapper",
    "desired_client",
    "key_id",
    "keycloak_trusted_issuer",
    "python_keycloak",
]
