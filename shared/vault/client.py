"""The one place that talks to Vault (OpenBao), through hvac.

Every hvac or transport error is translated here into our :mod:`shared.errors` tree, so
callers distinguish *unreachable* / *sealed* (retry later) from *forbidden* (fix the policy)
and *not found*. Requests carry a timeout; connection failures are retried a limited number
of times (a connect failure means the request was never sent, so retrying is always safe).

Several addresses (``VAULT_ADDR=http://a:8200,http://b:8200,...``, the nodes of an HA
cluster) are used one at a time, the current one until it fails. A request that no node
served, which is safe to send again, goes at once to the next address: a refused
connection, a sealed node, a standby that cannot reach an active node (a 3xx redirect, or
the 500 "active cluster node not found"). A request that may have been served (a timeout,
a connection lost after sending) is not sent again, but the next request uses the next
address. With one address nothing of this applies.

hvac is synchronous: async callers run these methods in a worker thread.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import hvac
import hvac.exceptions as hvac_errors
import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from shared.errors import (
    VaultError,
    VaultForbidden,
    VaultNotFound,
    VaultSealed,
    VaultUnavailable,
)
from shared.settings import Settings, read_secret_file

__all__ = ["TransitDecryptRefused", "Vault", "is_decrypt_refusal"]

T = TypeVar("T")

#: Retries after a *refused* connection (the request never reached Vault, so retrying is
#: safe even for rotate). Timeouts and resets after sending are not retried: a timeout would
#: cost a whole timeout again, and a lost answer may hide an effect that already happened.
_REFUSED_RETRIES = 2
_REFUSED_BACKOFF = 0.05

#: OpenBao answers a failed RSA decryption with a 500 whose message starts like this
#: (transit's path_decrypt.go wraps the crypto error), unlike an outage's 500.
_RSA_DECRYPT_FAILURE = "failed to RSA decrypt"
#: A standby's 500 while no active node is known (an election): the request was not served.
_NO_ACTIVE_NODE = "active cluster node not found"


class _Redirected(requests.exceptions.RequestException):
    """Vault answered 3xx. A standby redirects to the active node when it cannot forward a
    request to it (OpenBao 2.7: while the active node is gone, before a new one is elected).
    We never follow redirects (the token would go wherever the Location says), and hvac
    would hand back the bare response in place of the JSON it parses."""


def _refuse_redirects(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A ``requests`` response hook: turn a 3xx into :class:`_Redirected`."""
    if response.is_redirect or 300 <= response.status_code < 400:
        status = response.status_code
        response.close()
        raise _Redirected(f"Vault answered HTTP {status} (a standby without an active node?)")


class TransitDecryptRefused(VaultError):
    """Transit refused to decrypt this ciphertext (bad bytes, retired or unknown version)."""

    code = "VAULT_DECRYPT_REFUSED"


def _refused(exc: BaseException | None) -> bool:
    """A connection Vault refused: nothing was sent, so a retry cannot repeat an effect.

    Only a failed connect counts. A connection reset *after* the request went out (the
    answer was lost) is not retried: a rotate or a create may already have happened.
    """
    if not isinstance(exc, requests.exceptions.ConnectionError) or isinstance(
        exc, requests.exceptions.Timeout
    ):
        return False
    cause = exc.args[0] if exc.args else None
    return isinstance(getattr(cause, "reason", cause), urllib3.exceptions.NewConnectionError)


def _not_served(exc: VaultUnavailable) -> bool:
    """The node did not serve the request, so another node may be sent it: refused
    connection, sealed or uninitialised node, or a standby without an active node."""
    cause = exc.__cause__
    if isinstance(exc, VaultSealed) or isinstance(cause, _Redirected) or _refused(cause):
        return True
    errors = getattr(cause, "errors", None) or []
    return isinstance(cause, hvac_errors.InternalServerError) and any(
        _NO_ACTIVE_NODE in str(e) for e in errors
    )


def _never_arrived(exc: VaultUnavailable) -> bool:
    """The request reached no node able to apply it (refused, or a sealed node)."""
    return isinstance(exc, VaultSealed) or _refused(exc.__cause__)


def _lost(exc: VaultUnavailable) -> bool:
    """A transport failure after the request may have been sent (timeout, reset): not
    retried, but a sign that this node may be gone."""
    cause = exc.__cause__
    return isinstance(cause, requests.exceptions.RequestException) and not _refused(cause)


def is_decrypt_refusal(exc: BaseException) -> bool:
    """True for the 500 Transit gives when RSA decryption of the ciphertext fails."""
    errors = getattr(exc, "errors", None) or []
    return isinstance(exc, hvac_errors.InternalServerError) and any(
        _RSA_DECRYPT_FAILURE in str(e) for e in errors
    )


def _describe(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return "; ".join(str(e).strip() for e in errors)
    return str(exc).split(", on ")[0].strip() or type(exc).__name__


class Vault:
    """A thin, typed, error-mapped facade over the Vault endpoints we use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=0, pool_maxsize=32)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.hooks["response"].append(_refuse_redirects)
        self._addrs = settings.vault_addrs
        #: Index in ``_addrs`` of the address requests go to (hvac's client holds it too).
        self._current = 0
        self._switch_lock = threading.Lock()
        self._client = hvac.Client(
            url=self._addrs[0],
            token=settings.vault_token,
            timeout=settings.vault_timeout,
            verify=settings.vault_cacert or True,
            session=session,
            allow_redirects=False,
        )
        self._login_lock = threading.Lock()
        self._logged_in = settings.vault_token is not None

    # -- plumbing -------------------------------------------------------------------------

    def _login(self) -> None:
        with self._login_lock:
            if self._logged_in:
                return
            secret_id = self.settings.vault_secret_id
            if self.settings.vault_secret_id_file:
                secret_id = read_secret_file(
                    "VAULT_SECRET_ID_FILE", self.settings.vault_secret_id_file
                )
            try:
                self._map(
                    lambda: self._client.auth.approle.login(
                        role_id=self.settings.vault_role_id, secret_id=secret_id
                    )
                )
            except (VaultUnavailable, VaultForbidden):
                raise
            except VaultError as exc:  # Vault says 400 for a wrong role or secret id
                raise VaultForbidden(f"AppRole login refused: {exc.detail}") from exc
            self._logged_in = True

    def _call(self, fn: Callable[[], T], *, repeatable: bool = True) -> T:
        """``fn()`` logged in, errors mapped. ``repeatable=False`` for writes that must not
        be applied twice (a key rotation, a check-and-set write): see :meth:`_map`."""
        if not self._logged_in and self.settings.uses_approle:
            self._login()
        try:
            return self._map(fn, repeatable=repeatable)
        except VaultForbidden:
            if not self.settings.uses_approle:
                raise
            # An AppRole token may have expired: log in again once, then give up.
            self._logged_in = False
            self._login()
            return self._map(fn, repeatable=repeatable)

    @property
    def addr(self) -> str:
        """The Vault address requests go to now (one of ``VAULT_ADDR``'s)."""
        return self._addrs[self._current]

    def _next_addr(self, failed: int) -> None:
        """Move on from address ``failed`` to the next one, unless another thread already
        moved on (then its choice stands: two failures of one node skip no other node)."""
        with self._switch_lock:
            if self._current == failed:
                self._current = (failed + 1) % len(self._addrs)
                self._client.url = self._addrs[self._current]

    def _map(self, fn: Callable[[], T], *, failover: bool = True, repeatable: bool = True) -> T:
        """``fn()`` with errors mapped; refused connections retried (on the other
        addresses first, then, after a pause, on all of them again).

        ``failover=False`` for calls about one node (seal status, init, unseal). With
        ``repeatable=False`` only a request that never reached a node that could apply it
        (refused connection, sealed node) is sent again: a standby answers 3xx or "active
        cluster node not found" also when forwarding failed *after* the active node applied
        the write, so a rotation or a check-and-set write is not sent twice.
        """
        others = len(self._addrs) - 1 if failover else 0
        retries = 0
        moved = 0
        while True:
            used = self._current
            try:
                return Vault._map_once(fn)
            except VaultUnavailable as exc:
                resend = _not_served(exc) and (repeatable or _never_arrived(exc))
                if others and moved < others and resend:
                    self._next_addr(used)
                    moved += 1
                    continue
                if others and (_lost(exc) or _not_served(exc)):
                    self._next_addr(used)  # for the next request; this one is not resent
                if retries == _REFUSED_RETRIES or not _refused(exc.__cause__):
                    raise
                retries += 1
                moved = 0
                time.sleep(_REFUSED_BACKOFF * retries)

    @staticmethod
    def _map_once(fn: Callable[[], T]) -> T:
        try:
            return fn()
        except hvac_errors.InvalidPath as exc:
            raise VaultNotFound(_describe(exc) if exc.errors else "no such path") from exc
        except (hvac_errors.Forbidden, hvac_errors.Unauthorized) as exc:
            raise VaultForbidden(_describe(exc)) from exc
        except (hvac_errors.VaultDown, hvac_errors.VaultNotInitialized) as exc:
            raise VaultSealed(f"Vault is sealed or not initialised: {_describe(exc)}") from exc
        except (hvac_errors.InternalServerError, hvac_errors.BadGateway) as exc:
            raise VaultUnavailable(f"Vault failed: {_describe(exc)}") from exc
        except hvac_errors.RateLimitExceeded as exc:
            raise VaultUnavailable(f"Vault rate limit: {_describe(exc)}") from exc
        except hvac_errors.VaultError as exc:
            raise VaultError(_describe(exc)) from exc
        except _Redirected as exc:
            raise VaultUnavailable(str(exc)) from exc
        except requests.exceptions.Timeout as exc:
            raise VaultUnavailable("Vault did not answer in time") from exc
        except requests.exceptions.RequestException as exc:
            raise VaultUnavailable(f"Vault unreachable: {type(exc).__name__}") from exc

    # -- system -----------------------------------------------------------------------------

    def mounts(self) -> dict[str, dict[str, Any]]:
        """Secrets engines by path (``secret/`` ...)."""
        data = self._call(self._client.sys.list_mounted_secrets_engines)
        return dict(data.get("data", data))

    def enable_engine(self, path: str, engine: str, options: dict[str, str] | None = None) -> None:
        """Mount a secrets engine at ``path``."""
        self._call(
            lambda: self._client.sys.enable_secrets_engine(engine, path=path, options=options)
        )

    def write_policy(self, name: str, hcl: str) -> None:
        """Create or replace an ACL policy."""
        self._call(lambda: self._client.sys.create_or_update_acl_policy(name=name, policy=hcl))

    def seal_status(self) -> tuple[bool, bool]:
        """``(initialized, sealed)``; needs no token."""
        status = self._map(self._client.sys.read_seal_status, failover=False)
        return bool(status["initialized"]), bool(status["sealed"])

    def initialize(self, shares: int = 1) -> tuple[list[str], str]:
        """Initialise a new Vault: ``(unseal keys, root token)``; needs no token."""
        result = self._map(
            lambda: self._client.sys.initialize(secret_shares=shares, secret_threshold=shares),
            failover=False,
        )
        return [str(k) for k in result["keys_base64"]], str(result["root_token"])

    def unseal(self, key: str) -> bool:
        """Submit one unseal key; True once Vault is unsealed."""
        result = self._map(lambda: self._client.sys.submit_unseal_key(key), failover=False)
        return not result["sealed"]

    def auth_methods(self) -> dict[str, dict[str, Any]]:
        """Enabled auth methods by path (``approle/`` ...)."""
        data = self._call(self._client.sys.list_auth_methods)
        return dict(data.get("data", data))

    def enable_auth(self, method: str) -> None:
        """Enable an auth method at its default path."""
        self._call(lambda: self._client.sys.enable_auth_method(method))

    def approle_write(
        self,
        role: str,
        policies: list[str],
        *,
        token_ttl: str,
        bound_cidrs: Sequence[str] | None = None,
    ) -> None:
        """Create or update AppRole ``role`` issuing tokens with ``policies`` only; with
        ``bound_cidrs``, its secret ids log in and its tokens work only from those networks
        (None leaves the role's bindings as they are)."""
        cidrs = None if bound_cidrs is None else list(bound_cidrs)
        self._call(
            lambda: self._client.auth.approle.create_or_update_approle(
                role,
                token_policies=policies,
                token_ttl=token_ttl,
                token_max_ttl=token_ttl,
                # No default policy: a role's token holds exactly its role policy.
                token_no_default_policy=True,
                secret_id_num_uses=0,
                secret_id_bound_cidrs=cidrs,
                token_bound_cidrs=cidrs,
            )
        )

    def approle_role_id(self, role: str) -> str:
        """The role id of ``role`` (not a secret on its own)."""
        result = self._call(lambda: self._client.auth.approle.read_role_id(role))
        return str(result["data"]["role_id"])

    def approle_new_secret_id(self, role: str) -> str:
        """A fresh secret id for ``role``."""
        result = self._call(lambda: self._client.auth.approle.generate_secret_id(role))
        return str(result["data"]["secret_id"])

    def approle_destroy_secret_id(self, role: str, secret_id: str) -> None:
        """Revoke ``secret_id`` of ``role`` (a no-op when it is already gone)."""
        self._call(lambda: self._client.auth.approle.destroy_secret_id(role, secret_id))

    # -- KV v2 ------------------------------------------------------------------------------

    def kv_read(self, path: str) -> tuple[dict[str, Any], int]:
        """The latest data at ``path`` and its version; raises :class:`VaultNotFound`."""
        result = self._call(
            lambda: self._client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self.settings.kv_mount, raise_on_deleted_version=True
            )
        )
        return dict(result["data"]["data"]), int(result["data"]["metadata"]["version"])

    def kv_write(self, path: str, data: dict[str, Any], *, cas: int | None = None) -> int:
        """Write ``data``; ``cas=0`` creates only, ``cas=N`` updates only version N.

        Raises:
            VaultError: with ``check-and-set`` in its detail when ``cas`` did not match.
        """
        result = self._call(
            lambda: self._client.secrets.kv.v2.create_or_update_secret(
                path=path, secret=data, cas=cas, mount_point=self.settings.kv_mount
            ),
            repeatable=False,
        )
        return int(result["data"]["version"])

    def kv_list(self, path: str) -> list[str]:
        """Child keys under ``path``; empty when there are none."""
        try:
            result = self._call(
                lambda: self._client.secrets.kv.v2.list_secrets(
                    path=path, mount_point=self.settings.kv_mount
                )
            )
        except VaultNotFound:
            return []
        return [str(k) for k in result["data"]["keys"]]

    # -- transit ----------------------------------------------------------------------------

    def transit_create_key(self, name: str, key_type: str) -> None:
        """Create a Transit key (a no-op in Vault when it already exists)."""
        self._call(
            lambda: self._client.secrets.transit.create_key(
                name,
                key_type=key_type,
                exportable=False,
                allow_plaintext_backup=False,
                mount_point=self.settings.transit_mount,
            )
        )

    def transit_read_key(self, name: str) -> dict[str, Any]:
        """Key metadata, including each live version's ``public_key`` for RSA/EC keys."""
        result = self._call(
            lambda: self._client.secrets.transit.read_key(
                name, mount_point=self.settings.transit_mount
            )
        )
        return dict(result["data"])

    def transit_rotate(self, name: str) -> None:
        """Add a new key version."""
        self._call(
            lambda: self._client.secrets.transit.rotate_key(
                name, mount_point=self.settings.transit_mount
            ),
            repeatable=False,
        )

    def transit_configure(self, name: str, *, min_decryption_version: int) -> None:
        """Set ``min_decryption_version`` (retires the versions below it)."""
        self._call(
            lambda: self._client.secrets.transit.update_key_configuration(
                name,
                min_decryption_version=min_decryption_version,
                mount_point=self.settings.transit_mount,
            )
        )

    def transit_decrypt(self, name: str, version: int, ciphertext: bytes) -> bytes:
        """Decrypt raw ``ciphertext`` made under key ``version``; returns the plaintext.

        Raises:
            TransitDecryptRefused: Vault refused these bytes (wrong key, retired or unknown
                version, bad padding). Transit reports a failed RSA decryption as a 500, so
                that 500 (recognised by its message, not its URL) is classed here, not as an
                outage: otherwise a forged token would look like a retryable failure.
            VaultUnavailable: Vault could not be reached or failed for another reason.
        """
        wire = f"vault:v{version}:{base64.b64encode(ciphertext).decode('ascii')}"

        def call() -> dict[str, Any]:
            return dict(
                self._client.secrets.transit.decrypt_data(
                    name, ciphertext=wire, mount_point=self.settings.transit_mount
                )
            )

        try:
            result = self._call(call)
        except VaultUnavailable as exc:
            cause = exc.__cause__
            if cause is not None and is_decrypt_refusal(cause):
                raise TransitDecryptRefused(_describe(cause)) from cause
            raise
        except (VaultNotFound, VaultForbidden):
            raise
        except VaultError as exc:  # 400: too old, too new, key not found, malformed
            raise TransitDecryptRefused(exc.detail) from exc
        return base64.b64decode(result["data"]["plaintext"])

    def transit_sign_jws(self, name: str, signing_inputs: list[bytes], version: int) -> list[str]:
        """Sign JWS signing inputs with key ``version`` in one call (``batch_input``).

        ``marshaling_algorithm=jws`` makes Transit return ES256's raw ``r || s`` form,
        base64url-encoded, ready to be the third segment of a compact JWS.

        Returns:
            The base64url signatures, in input order.

        Raises:
            VaultError: the call failed, or Transit refused an item.
        """
        result = self._call(
            lambda: self._client.secrets.transit.sign_data(
                name,
                batch_input=[
                    {"input": base64.b64encode(i).decode("ascii")} for i in signing_inputs
                ],
                key_version=version,
                hash_algorithm="sha2-256",
                marshaling_algorithm="jws",
                mount_point=self.settings.transit_mount,
            )
        )
        items = list(result["data"]["batch_results"])
        if len(items) != len(signing_inputs):
            raise VaultUnavailable(
                f"Transit returned {len(items)} results for {len(signing_inputs)} inputs"
            )
        signatures = []
        for item in items:
            if item.get("error") or not item.get("signature"):
                raise VaultError(f"Transit refused to sign: {item.get('error')}")
            signatures.append(str(item["signature"]).rsplit(":", 1)[1])  # strip "vault:vN:"
        return signatures

    def transit_export(self, name: str, key_type: str, version: int) -> str:
        """Export one version of an *exportable* key (tests and break-glass only)."""
        result = self._call(
            lambda: self._client.secrets.transit.export_key(
                name,
                key_type=key_type,
                version=str(version),
                mount_point=self.settings.transit_mount,
            )
        )
        return str(result["data"]["keys"][str(version)])
