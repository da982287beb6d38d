"""Mirroring accounts into a Keycloak realm (``tokenctl accounts … --keycloak``).

Vault's account document is the source of truth; the realm gets, per account:

- a confidential client ``<account id>`` (see :mod:`shared.keycloak._representation`): the
  customer's own credential (key, JWKS URL or secret), used when its client assertions
  are passed through to Keycloak;
- its ``secure-token-audience`` mapper and the realm's ``token:encrypt`` default scope;
- a user ``<account id>`` linked to the realm's identity provider for the Authorization
  API (federated user id = account id): the subject Keycloak's JWT Authorization Grant
  resolves when the Authorization API exchanges a verified secure token
  (:mod:`shared.keycloak._backend`).

Every step reads first and writes only what differs, so a re-run is a no-op and a re-run
after a partial failure finishes the job. A client or user of that name that we did not
create is never taken over (:class:`KeycloakConflict`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from shared.accounts.document import Account, PublicKeyValidation
from shared.keycloak._client import call
from shared.keycloak._errors import KeycloakConflict, KeycloakError, KeycloakRefused
from shared.keycloak._realm import KeycloakRealm
from shared.keycloak._representation import (
    MANAGED_ATTRIBUTE,
    SCOPE_NAME,
    audience_mapper,
    client_drift,
    desired_client,
    key_id,
    mapper_drift,
)

__all__ = ["Inspection", "KeycloakProvisioner", "SyncResult"]


class SyncResult(msgspec.Struct, frozen=True):
    """What :meth:`KeycloakProvisioner.sync` changed (empty ``actions``: nothing to do)."""

    client_uuid: str
    actions: tuple[str, ...]


class Inspection(msgspec.Struct, frozen=True):
    """How the realm's copy of an account compares with Vault's document."""

    exists: bool
    drift: tuple[str, ...]
    #: For a public-key account: the ``kid`` Keycloak knows its key by.
    kid: str | None = None

    @property
    def in_sync(self) -> bool:
        """True when the realm holds exactly what the account says."""
        return self.exists and not self.drift


def _without_nulls(client: dict[str, Any]) -> dict[str, Any]:
    attributes = {k: v for k, v in client["attributes"].items() if v is not None}
    return {**client, "attributes": attributes}


class KeycloakProvisioner:
    """Creates, updates and inspects accounts' clients and users in one realm.

    Args:
        realm: the realm.
        admin: a python-keycloak ``KeycloakAdmin`` logged in to it
            (:func:`shared.keycloak._client.admin_client`).
        audience: the Crypto API's audience (``CRYPTO_AUDIENCE``).
    """

    def __init__(self, realm: KeycloakRealm, admin: Any, *, audience: str) -> None:
        self.realm = realm
        self._admin = admin
        self.audience = audience

    # --- reading ---------------------------------------------------------------------

    def _client(self, account_id: str) -> dict[str, Any] | None:
        uuid = call("find the client", lambda: self._admin.get_client_id(account_id))
        if uuid is None:
            return None
        client: dict[str, Any] = call("read the client", lambda: self._admin.get_client(uuid))
        if (client.get("attributes") or {}).get(MANAGED_ATTRIBUTE) != account_id:
            raise KeycloakConflict(
                f"the realm {self.realm.realm!r} has a client {account_id!r} that tokenctl did "
                f"not create (no {MANAGED_ATTRIBUTE} attribute): rename or remove it first"
            )
        return client

    def _user(self, account_id: str) -> tuple[dict[str, Any] | None, bool]:
        """The account's user and whether it is linked to our identity provider."""
        uid = call("find the user", lambda: self._admin.get_user_id(account_id))
        if uid is None:
            return None, False
        user: dict[str, Any] = call("read the user", lambda: self._admin.get_user(uid))
        links = call("read the user's links", lambda: self._admin.get_user_social_logins(uid))
        linked = any(
            link.get("identityProvider") == self.realm.idp_alias
            and link.get("userId") == account_id
            for link in links
        )
        return user, linked

    def inspect(self, account: Account) -> Inspection:
        """Compare the realm's client and user with ``account``; change nothing.

        Raises:
            KeycloakError: Keycloak unreachable or refusing; KeycloakConflict: the client
                of that name is not ours.
        """
        v = account.validation
        kid = key_id(v.public_key_pem) if isinstance(v, PublicKeyValidation) else None
        client = self._client(account.id)
        if client is None:
            return Inspection(exists=False, drift=("no client in the realm",), kid=kid)
        uuid = client["id"]
        drift = client_drift(desired_client(account), client)
        mappers = call("read the mappers", lambda: self._admin.get_mappers_from_client(uuid))
        problem = mapper_drift(mappers, self.audience)
        if problem:
            drift.append(problem)
        if not self._has_scope(uuid):
            drift.append(f"default client scope {SCOPE_NAME!r}: missing")
        user, linked = self._user(account.id)
        if user is None:
            drift.append(f"user {account.id!r} (for the jwt-bearer exchange): missing")
        else:
            if not linked:
                drift.append(f"user {account.id!r}: not linked to {self.realm.idp_alias!r}")
            if user.get("enabled") != account.active:
                drift.append(
                    f"user {account.id!r}: enabled is {user.get('enabled')!r}, "
                    f"the account is {account.status}"
                )
        return Inspection(exists=True, drift=tuple(drift), kid=kid)

    def _has_scope(self, uuid: str) -> bool:
        scopes = call(
            "read the default scopes", lambda: self._admin.get_client_default_client_scopes(uuid)
        )
        return any(scope.get("name") == SCOPE_NAME for scope in scopes)

    # --- writing ---------------------------------------------------------------------

    def sync(self, account: Account) -> SyncResult:
        """Make the realm hold ``account`` as it is in Vault (create, update, enable or
        disable); idempotent.

        Raises:
            AccountInvalid: the account cannot be mirrored (a secret that is not text).
            KeycloakConflict: a client or user of that name is not ours, or the realm lacks
                the ``token:encrypt`` scope.
            KeycloakError: Keycloak unreachable or refusing.
        """
        desired = desired_client(account)
        actions = self.ensure_realm()
        client = self._client(account.id)
        if client is None:
            uuid = str(
                call(
                    "create the client", lambda: self._admin.create_client(_without_nulls(desired))
                )
            )
            actions.append("created the client")
        else:
            uuid = client["id"]
            drift = client_drift(desired, client)
            if drift:
                kept = (client.get("attributes") or {}).get("jwt.credential.certificate")
                if not any(d.startswith("jwt.credential.certificate") for d in drift) and kept:
                    # Same key: keep Keycloak's certificate rather than churn it.
                    desired["attributes"]["jwt.credential.certificate"] = kept
                call("update the client", lambda: self._admin.update_client(uuid, desired))
                actions.extend(f"updated {d.split(':', 1)[0]}" for d in drift)
        actions.extend(self._sync_mapper(uuid))
        if not self._has_scope(uuid):
            actions.append(self._add_scope(uuid))
        actions.extend(self._sync_user(account))
        return SyncResult(client_uuid=uuid, actions=tuple(actions))

    def _sync_mapper(self, uuid: str) -> list[str]:
        mappers = call("read the mappers", lambda: self._admin.get_mappers_from_client(uuid))
        if mapper_drift(mappers, self.audience) is None:
            return []
        wanted = audience_mapper(self.audience)
        ids = [m["id"] for m in mappers if m.get("name") == wanted["name"]]
        if ids:
            body = {**wanted, "id": ids[0]}
            call(
                "update the mapper",
                lambda: self._admin.update_client_mapper(uuid, ids[0], body),
            )
            return ["updated the audience mapper"]
        call("add the mapper", lambda: self._admin.add_mapper_to_client(uuid, wanted))
        return ["added the audience mapper"]

    def _add_scope(self, uuid: str) -> str:
        scope_id = self._scope_id()
        payload = {"realm": self.realm.realm, "client": uuid, "clientScopeId": scope_id}
        call(
            "add the default scope",
            lambda: self._admin.add_client_default_client_scope(uuid, scope_id, payload),
        )
        return f"added the default scope {SCOPE_NAME!r}"

    def _scope_id(self) -> str:
        """The realm's ``token:encrypt`` client scope, created when missing: its name in
        the token's ``scope`` claim (``include.in.token.scope``) is what the Crypto API
        checks."""
        scope = call("find the scope", lambda: self._admin.get_client_scope_by_name(SCOPE_NAME))
        if scope is not None:
            return str(scope["id"])
        rep = {
            "name": SCOPE_NAME,
            "description": "Encrypt secure tokens with the Crypto API",
            "protocol": "openid-connect",
            "attributes": {"include.in.token.scope": "true", "display.on.consent.screen": "false"},
        }
        return str(call("create the scope", lambda: self._admin.create_client_scope(rep)))

    def ensure_realm(self) -> list[str]:
        """The realm-wide pieces every account relies on: the ``token:encrypt`` scope, the
        broker client (with that default scope and the audience mapper) and the identity
        provider for our assertions. The broker and the provider are not created here
        (their trust in our JWKS is the operator's decision: deploy/keycloak/realm.json).

        Raises:
            KeycloakConflict: the broker client or the identity provider is missing.
        """
        broker = self.realm.broker_client_id
        uuid = call("find the broker", lambda: self._admin.get_client_id(broker))
        if uuid is None:
            raise KeycloakConflict(
                f"the realm {self.realm.realm!r} has no client {broker!r} (KEYCLOAK_BROKER_"
                "CLIENT_ID): import it from deploy/keycloak/realm.json"
            )
        try:
            call("find the identity provider", lambda: self._admin.get_idp(self.realm.idp_alias))
        except KeycloakRefused as exc:
            if exc.status != 404:
                raise
            raise KeycloakConflict(
                f"the realm {self.realm.realm!r} has no identity provider "
                f"{self.realm.idp_alias!r} (KEYCLOAK_IDP_ALIAS): import it from "
                "deploy/keycloak/realm.json"
            ) from exc
        actions = [] if self._has_scope(uuid) else [f"broker: {self._add_scope(uuid)}"]
        actions.extend(f"broker: {a}" for a in self._sync_mapper(uuid))
        return actions

    def _sync_user(self, account: Account) -> list[str]:
        user, linked = self._user(account.id)
        actions = []
        if user is None:
            uid = str(
                call(
                    "create the user",
                    lambda: self._admin.create_user(
                        {"username": account.id, "enabled": account.active}
                    ),
                )
            )
            try:
                self._link(uid, account.id)
            except KeycloakError:
                # Leave no unlinked user behind: a re-run would take it for someone else's.
                call("remove the half-made user", lambda: self._admin.delete_user(uid))
                raise
            return ["created the user and linked it"]
        if not linked:
            raise KeycloakConflict(
                f"the realm {self.realm.realm!r} has a user {account.id!r} that is not linked "
                f"to {self.realm.idp_alias!r}: tokenctl did not create it; rename or remove it"
            )
        if user.get("enabled") != account.active:
            call(
                "update the user",
                lambda: self._admin.update_user(user["id"], {"enabled": account.active}),
            )
            actions.append("enabled the user" if account.active else "disabled the user")
        return actions

    def _link(self, uid: str, account_id: str) -> None:
        call(
            "link the user",
            lambda: self._admin.add_user_social_login(
                uid, self.realm.idp_alias, account_id, account_id
            ),
        )
