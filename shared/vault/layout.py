"""Names in Vault that are fixed rather than configured (the mounts are in Settings)."""

from __future__ import annotations

from typing import Final

__all__ = ["AUTHZ_SIGNING_KEY"]

#: The Transit key (ecdsa-p256) the Authorization API signs bearers with; created by
#: ``tokenctl vault bootstrap``, read by the issuer, the bearer check and Keycloak's assertions.
AUTHZ_SIGNING_KEY: Final = "authz-signing"
