"""The account registry: account documents in KV v2 at ``accounts/<id>``.

Writes are check-and-set, so two operators editing one account cannot silently overwrite
each other, and ``create`` never replaces an existing account.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from shared.accounts.document import (
    Account,
    RateLimits,
    TokenPolicy,
    check_account_id,
    validate_account,
)
from shared.accounts.keys import KeyStore
from shared.errors import (
    AccountConflict,
    AccountExists,
    AccountInvalid,
    AccountNotFound,
    VaultError,
    VaultNotFound,
)
from shared.vault import Vault

__all__ = ["AccountStore"]

_PREFIX = "accounts/"


def _document(account: Account) -> dict[str, object]:
    """What is written to KV. An account without limits of its own is written without
    ``rate_limits``: the document forbids unknown fields, so releases from before the
    field could not read it otherwise (a rolling upgrade reads old and new documents)."""
    data: dict[str, object] = msgspec.to_builtins(account)
    if account.rate_limits == RateLimits():
        del data["rate_limits"]
    return data


def _is_cas_mismatch(exc: VaultError) -> bool:
    # KV v2 answers a failed check-and-set with a plain 400; only its message tells it apart
    # ("check-and-set parameter did not match the current version", OpenBao 2.7).
    return "check-and-set" in exc.detail


class AccountStore:
    """Create, read, update, disable and list accounts."""

    def __init__(self, vault: Vault, keys: KeyStore | None = None) -> None:
        self._vault = vault
        self._keys = keys or KeyStore(vault)
        #: JWKS_ALLOW_LOOPBACK_HTTP: the dev stack's and the tests' JWKS servers are local.
        self._loopback_http = vault.settings.jwks_allow_loopback_http

    def _read(self, account_id: str) -> tuple[Account, int]:
        check_account_id(account_id)
        try:
            data, version = self._vault.kv_read(_PREFIX + account_id)
        except VaultNotFound:
            raise AccountNotFound(f"no account {account_id!r}") from None
        try:
            return msgspec.convert(data, Account), version
        except msgspec.ValidationError as exc:
            raise AccountInvalid(f"stored account {account_id!r} is malformed: {exc}") from exc

    def get(self, account_id: str) -> Account:
        """The account document.

        Raises:
            AccountNotFound: no such account.
            AccountInvalid: the id is malformed, or the stored document is.
            VaultError: Vault refused or could not be reached.
        """
        return self._read(account_id)[0]

    def create(self, account: Account) -> Account:
        """Validate ``account``, create its Transit key, and store it (never overwriting).

        Raises:
            AccountInvalid: the document breaks a rule.
            AccountExists: an account with this id exists already.
        """
        now = datetime.now(UTC)
        account = msgspec.structs.replace(
            validate_account(account, allow_loopback_http=self._loopback_http),
            created_at=now,
            updated_at=now,
        )
        # The key first: a document never points at a key that does not exist.
        self._keys.ensure(account.id, account.key_type)
        try:
            self._vault.kv_write(_PREFIX + account.id, _document(account), cas=0)
        except VaultError as exc:
            if _is_cas_mismatch(exc):
                raise AccountExists(f"account {account.id!r} already exists") from exc
            raise
        return account

    def get_versioned(self, account_id: str) -> tuple[Account, int]:
        """The account document and its KV version, for :meth:`update`'s ``expected``."""
        return self._read(account_id)

    def update(self, account: Account, *, expected: int | None = None) -> Account:
        """Replace an existing account's document (its id, key type and creation time stay).

        ``expected``: the version the change was built from (:meth:`get_versioned`); the
        write fails if the account changed since. Without it, the version read here.

        Raises:
            AccountNotFound, AccountInvalid, AccountConflict (changed meanwhile: re-read).
        """
        current, version = self._read(account.id)
        if expected is not None and expected != version:
            raise AccountConflict(f"account {account.id!r} changed meanwhile")
        version = expected if expected is not None else version
        if account.key_type != current.key_type:
            raise AccountInvalid("key_type is fixed when the account is created")
        account = msgspec.structs.replace(
            validate_account(account, allow_loopback_http=self._loopback_http),
            created_at=current.created_at,
            updated_at=datetime.now(UTC),
        )
        try:
            self._vault.kv_write(_PREFIX + account.id, _document(account), cas=version)
        except VaultError as exc:
            if _is_cas_mismatch(exc):
                raise AccountConflict(f"account {account.id!r} changed meanwhile") from exc
            raise
        return account

    def disable(self, account_id: str) -> Account:
        """Mark the account disabled: its tokens are refused from then on."""
        current, version = self._read(account_id)
        return self.update(msgspec.structs.replace(current, status="disabled"), expected=version)

    def policy_history(
        self, account_id: str
    ) -> tuple[list[tuple[datetime, TokenPolicy | None]], bool]:
        """The account's token policy as each retained KV version set it, newest first, with
        the time it was written (KV's ``created_time``); ``None`` for a version that cannot
        be read back as an account. Reading stops after the first version without a lifetime
        bound (what came before it no longer matters to :mod:`shared.accounts.retirement`),
        and before a version KV no longer has (deleted, destroyed or trimmed).

        Returns:
            The versions read, and whether all of them bound lifetimes back to the
            account's creation (KV version 1 read; not when it was trimmed or deleted).

        Raises:
            AccountNotFound: no such account.
        """
        check_account_id(account_id)
        path = _PREFIX + account_id
        try:
            written = self._vault.kv_versions(path)
        except VaultNotFound:
            written = {}
        if not written:
            raise AccountNotFound(f"no account {account_id!r}")
        history: list[tuple[datetime, TokenPolicy | None]] = []
        for version in range(max(written), 0, -1):
            if version not in written:
                # Deleted, destroyed or trimmed by KV: its policy is unknown, so the bound
                # cannot be said to have held across it.
                return history, False
            try:
                policy = msgspec.convert(self._vault.kv_read_version(path, version), Account).policy
            except (VaultNotFound, msgspec.ValidationError):
                policy = None
            at = datetime.fromisoformat(written[version].replace("Z", "+00:00"))
            history.append((at, policy))
            if policy is None or not policy.require_exp or policy.max_lifetime is None:
                return history, False
        return history, True

    def list(self) -> list[str]:
        """All account ids, sorted."""
        return sorted(k for k in self._vault.kv_list(_PREFIX) if not k.endswith("/"))
