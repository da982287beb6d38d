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
# `+` is exactly one path segment: a glob (`account-*`) would also grant every sub-path,
# /trim and /config included.
path "$transit/keys/+" {
  capabilities = ["create", "update", "read"]
}
path "$transit/keys/+/rotate" {
  capabilities = ["update"]
}
# Retirement only: not exportable, deletion_allowed or auto-rotation.
path "$transit/keys/+/config" {
  capabilities = ["update"]
  allowed_parameters = {
    "min_decryption_version" = []
  }
}
