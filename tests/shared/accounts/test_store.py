"""The account registry in a real OpenBao: create, read, update, disable, list."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from shared import (
    Account,
    AccountConflict,
    AccountExists,
    AccountInvalid,
    AccountNotFound,
    AccountStore,
    CustomerEncryption,
    KeyStore,
    SymmetricValidation,
    TokenInvalidSignature,
    TokenPolicy,
    Vault,
    Verifier,
)
from shared.accounts.document import RateLimit, RateLimits
from tests.support.tokens import claims, sign


def _symmetric_hs256() -> Account:
    """A valid HS256 account (id ``acme``) with a 64-byte secret."""
    return Account(
        id="acme", validation=SymmetricValidation(algorithms=("HS256",), secret=bytes(range(64)))
    )


def test_create_then_get_round_trips(
    store: AccountStore, account_id: str, hmac_secret: bytes
) -> None:
    """A created account reads back equal, bytes secret and customer key included."""
    ce = CustomerEncryption(alg="A256KW", enc="A256GCM", key=secrets.token_bytes(32))
    account = Account(
        id=account_id,
        validation=SymmetricValidation(algorithms=("HS256", "HS512"), secret=hmac_secret),
        issuer="https://customer.example",
        customer_encryption=ce,
        policy=TokenPolicy(leeway=5, require_exp=True, max_lifetime=86_400),
    )
    created = store.create(account)
    assert created.created_at is not None
    assert created.updated_at == created.created_at
    read = store.get(account_id)
    assert read == created
    assert isinstance(read.validation, SymmetricValidation)
    assert read.validation.secret == hmac_secret
    assert read.customer_encryption is not None
    assert read.customer_encryption.key == ce.key


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("public_key", {"key": "rsa-2048", "algorithms": ("RS256", "RS512")}),
        ("jwks", {"jwks_uri": "https://idp.example/jwks.json", "algorithms": ("ES256",)}),
    ],
    ids=["public-key", "jwks"],
)
def test_other_methods_round_trip(
    make_account: Callable[..., Account],
    store: AccountStore,
    method: str,
    options: dict[str, Any],
) -> None:
    """Public-key and JWKS accounts read back exactly as created."""
    created = make_account(method, **options)
    assert store.get(created.id) == created


def test_create_makes_the_transit_key(
    make_account: Callable[..., Account], keystore: KeyStore
) -> None:
    """Creating an account creates its Transit key at version 1, of the account's key type."""
    account = make_account()
    keys = keystore.get(account.id)
    assert keys.latest_version == 1
    assert keys.key_type == "rsa-2048"
    assert [k.version for k in keys.public_keys] == [1]


def test_create_with_another_key_type(
    make_account: Callable[..., Account], keystore: KeyStore
) -> None:
    """An account asking for rsa-3072 gets a Transit key of that type."""
    account = make_account(key_type="rsa-3072")
    assert keystore.get(account.id).key_type == "rsa-3072"


def test_invalid_account_creates_nothing(
    store: AccountStore, keystore: KeyStore, account_id: str
) -> None:
    """A document that fails validation leaves neither an account nor a Transit key behind."""
    bad = Account(
        id=account_id,
        validation=SymmetricValidation(algorithms=("HS256",), secret=b"short"),
    )
    with pytest.raises(AccountInvalid):
        store.create(bad)
    with pytest.raises(AccountNotFound):
        store.get(account_id)
    with pytest.raises(AccountNotFound):
        keystore.get(account_id)


def test_create_twice_is_refused_and_keeps_the_first(
    make_account: Callable[..., Account], store: AccountStore
) -> None:
    """Creating an existing account raises AccountExists and never overwrites the stored one."""
    first = make_account("symmetric", algorithms=("HS256",), secret=b"1" * 32)
    with pytest.raises(AccountExists) as caught:
        make_account("symmetric", algorithms=("HS256",), secret=b"2" * 32)
    assert caught.value.code == "ACCOUNT_EXISTS"
    assert store.get(first.id) == first


def test_get_unknown_account(store: AccountStore, account_id: str) -> None:
    """Reading an account that does not exist raises AccountNotFound."""
    with pytest.raises(AccountNotFound) as caught:
        store.get(account_id)
    assert caught.value.code == "ACCOUNT_NOT_FOUND"


def test_get_with_malformed_id(store: AccountStore) -> None:
    """A malformed id is refused before any Vault path is built from it."""
    with pytest.raises(AccountInvalid):
        store.get("../../sys/policy")


def test_stored_document_that_is_malformed(
    store: AccountStore, vault: Vault, account_id: str
) -> None:
    """A document edited by hand into something invalid reads as AccountInvalid, not a crash."""
    vault.kv_write(f"accounts/{account_id}", {"id": account_id, "validation": {"method": "x"}})
    with pytest.raises(AccountInvalid) as caught:
        store.get(account_id)
    assert account_id in caught.value.detail


def test_update_replaces_the_document(
    make_account: Callable[..., Account], store: AccountStore
) -> None:
    """An update stores the new document, keeps created_at and moves updated_at forward."""
    created = make_account()
    changed = msgspec.structs.replace(
        created, issuer="https://customer.example", policy=TokenPolicy(require_exp=True)
    )
    updated = store.update(changed)
    read = store.get(created.id)
    assert read == updated
    assert read.issuer == "https://customer.example"
    assert read.policy.require_exp is True
    assert read.created_at == created.created_at
    assert read.updated_at is not None
    assert created.updated_at is not None
    assert read.updated_at > created.updated_at


def test_update_can_switch_method(
    make_account: Callable[..., Account], store: AccountStore, hmac_secret: bytes
) -> None:
    """An account may move to another validation method through an update."""
    created = make_account()
    validation = SymmetricValidation(algorithms=("HS512",), secret=hmac_secret)
    store.update(msgspec.structs.replace(created, validation=validation))
    assert store.get(created.id).validation == validation


def test_update_of_unknown_account(store: AccountStore, account_id: str) -> None:
    """Updating an account that does not exist raises AccountNotFound and creates nothing."""
    account = msgspec.structs.replace(_symmetric_hs256(), id=account_id)
    with pytest.raises(AccountNotFound):
        store.update(account)
    with pytest.raises(AccountNotFound):
        store.get(account_id)


def test_invalid_update_keeps_the_stored_document(
    make_account: Callable[..., Account], store: AccountStore
) -> None:
    """An update that fails validation changes nothing."""
    created = make_account()
    with pytest.raises(AccountInvalid):
        store.update(msgspec.structs.replace(created, issuer=""))
    assert store.get(created.id) == created


def test_update_cannot_change_the_key_type(
    make_account: Callable[..., Account], store: AccountStore
) -> None:
    """The Transit key type is fixed at creation."""
    created = make_account()
    with pytest.raises(AccountInvalid) as caught:
        store.update(msgspec.structs.replace(created, key_type="rsa-4096"))
    assert "key_type" in caught.value.detail


def test_disable_marks_the_account_and_refuses_its_tokens(
    make_account: Callable[..., Account], store: AccountStore, verifier: Verifier
) -> None:
    """A disabled account reads back as disabled and a valid token for it is refused."""
    created = make_account()
    disabled = store.disable(created.id)
    assert disabled.status == "disabled"
    assert disabled.active is False
    assert store.get(created.id).status == "disabled"
    with pytest.raises(TokenInvalidSignature) as caught:
        verifier.verify(sign(claims(), "ES256", "ec-p256"), account_id=created.id, campaign_id=1001)
    assert caught.value.code == "TOKEN_INVALID_SIGNATURE"


def test_disable_unknown_account(store: AccountStore, account_id: str) -> None:
    """Disabling an account that does not exist raises AccountNotFound."""
    with pytest.raises(AccountNotFound):
        store.disable(account_id)


def test_list_contains_created_ids_sorted(
    make_account: Callable[..., Account], store: AccountStore, account_id: str
) -> None:
    """``list`` returns every account id, sorted, including the ones just created."""
    ids = [f"{account_id}-b", f"{account_id}-a"]
    for new_id in ids:
        make_account(id=new_id)
    listed = store.list()
    assert set(ids) <= set(listed)
    assert listed == sorted(listed)


class _RacingVault(Vault):
    """A real Vault client that lets another real writer in between a read and a write.

    This is the interleaving two operators produce when they edit one account at once; no
    request is faked, only the timing is chosen.
    """

    race_path: str | None = None

    def kv_read(self, path: str) -> tuple[dict[str, Any], int]:
        data, version = super().kv_read(path)
        if path == self.race_path:
            self.race_path = None
            Vault(self.settings).kv_write(path, {**data, "issuer": "https://other.example"})
        return data, version


def test_stale_concurrent_update_conflicts(
    vault: Vault, make_account: Callable[..., Account]
) -> None:
    """An update based on a version someone else replaced raises AccountConflict, losing nothing."""
    created = make_account()
    racing = _RacingVault(vault.settings)
    store = AccountStore(racing)
    racing.race_path = f"accounts/{created.id}"
    with pytest.raises(AccountConflict) as caught:
        store.update(msgspec.structs.replace(created, issuer="https://mine.example"))
    assert caught.value.code == "ACCOUNT_CONFLICT"
    assert AccountStore(vault).get(created.id).issuer == "https://other.example"


def test_a_document_without_limits_of_its_own_omits_the_field(
    store: AccountStore, vault: Vault, account_id: str, hmac_secret: bytes
) -> None:
    """An account with the default limits is stored without ``rate_limits``, so releases
    from before the field (the document forbids unknown fields) still read it; one with
    its own limits keeps them."""
    account = Account(
        id=account_id, validation=SymmetricValidation(algorithms=("HS256",), secret=hmac_secret)
    )
    store.create(account)
    assert "rate_limits" not in vault.kv_read(f"accounts/{account_id}")[0]
    limits = RateLimits(batch=RateLimit(per_second=100.0, burst=200))
    updated = store.update(msgspec.structs.replace(store.get(account_id), rate_limits=limits))
    assert updated.rate_limits == limits
    assert vault.kv_read(f"accounts/{account_id}")[0]["rate_limits"]["batch"]["burst"] == 200
    assert store.get(account_id).rate_limits == limits
