# admin: security teams and `tokenctl` — manage accounts and their keys; never decrypt
# tokens, never export, trim or delete keys (those are irreversible break-glass actions).
path "$kv/data/accounts/*" {
  capabilities = ["create", "read", "update"]
}
path "$kv/metadata/accounts/*" {
  capabilities = ["read", "list"]
}
path "$kv/metadata/accounts" {
  capabilities = ["list"]
}
# The player's settings (one document per account) and its form keys.
path "$kv/data/player/*" {
  capabilities = ["create", "read", "update"]
}
path "$kv/data/player-secrets/*" {
  capabilities = ["create", "read", "update"]
}
# `+` is exactly one path segment: a glob (`account-*`) would also grant every sub-path,
# /trim and /config included.
# Creation takes only a key type and the flags that keep the private key in Vault: an
# `exportable` or `allow_plaintext_backup` key could be read out later by whoever may
# export or back up, and both flags are irreversible. Vault matches these values exactly
# (a string "false" is refused too), and any other parameter (derived, convergent...) is
# refused.
path "$transit/keys/+" {
  capabilities = ["create", "update", "read"]
  allowed_parameters = {
    "type" = ["rsa-2048", "rsa-3072", "rsa-4096"]
    "exportable" = [false]
    "allow_plaintext_backup" = [false]
  }
}
path "$transit/keys/+/rotate" {
  capabilities = ["update"]
}
# Retirement and the rotation schedule only: not exportable, deletion_allowed or
# min_encryption_version.
path "$transit/keys/+/config" {
  capabilities = ["update"]
  allowed_parameters = {
    "min_decryption_version" = []
    "auto_rotate_period" = []
  }
}
