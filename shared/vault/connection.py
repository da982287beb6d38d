"""The connection to Vault: one hvac client, AppRole login, and which address requests go to.

Requests carry a timeout; connection failures are retried a limited number of times (a
connect failure means the request was never sent, so retrying is always safe).

Several addresses (``VAULT_ADDR=http://a:8200,http://b:8200,...``, the nodes of an HA
cluster) are used one at a time, the current one until it fails. A request that no node
served, which is safe to send again, goes at once to the next address: a refused
connection, a sealed node, a standby that cannot reach an active node (a 3xx redirect, or
the 500 "active cluster node not found"). A request that may have been served (a timeout,
a connection lost after sending) is not sent again, but the next request uses the next
address. With one address nothing of this applies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import hvac
import requests
from requests.adapters import HTTPAdapter

from shared.errors import VaultError, VaultForbidden, VaultUnavailable
from shared.settings import Settings, read_secret_file
from shared.vault.failures import (
    call_mapped,
    lost,
    never_arrived,
    not_served,
    refuse_redirects,
    refused,
)

__all__ = ["VaultConnection"]

T = TypeVar("T")

#: Retries after a *refused* connection (the request never reached Vault, so retrying is
#: safe even for rotate). Timeouts and resets after sending are not retried: a timeout would
#: cost a whole timeout again, and a lost answer may hide an effect that already happened.
_REFUSED_RETRIES = 2
_REFUSED_BACKOFF = 0.05


class VaultConnection:
    """Login, retries and failover under :class:`~shared.vault.client.Vault`'s endpoints:
    each endpoint is one :meth:`_call` (or :meth:`_map` for calls that need no token)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=0, pool_maxsize=32)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.hooks["response"].append(refuse_redirects)
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
                return call_mapped(fn)
            except VaultUnavailable as exc:
                resend = not_served(exc) and (repeatable or never_arrived(exc))
                if others and moved < others and resend:
                    self._next_addr(used)
                    moved += 1
                    continue
                if others and (lost(exc) or not_served(exc)):
                    self._next_addr(used)  # for the next request; this one is not resent
                if retries == _REFUSED_RETRIES or not refused(exc.__cause__):
                    raise
                retries += 1
                moved = 0
                time.sleep(_REFUSED_BACKOFF * retries)
