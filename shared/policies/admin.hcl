# admin: security teams and `tokenctl` — manage accounts and their keys; never decrypt tokens.
path "$kv/data/accounts/*" {
  capabilities = ["create", "read", "update"]
}
path "$kv/metadata/accounts/*" {
  capabilities = ["read", "list"]
}
path "$kv/metadata/accounts" {
  capabilities = ["list"]
}
path "$transit/keys/account-*" {
  capabilities = ["create", "read", "update"]
}
path "$transit/keys/account-*/rotate" {
  capabilities = ["update"]
}
path "$transit/keys/account-*/config" {
  capabilities = ["update"]
}
path "$transit/keys/authz-signing" {
  capabilities = ["create", "read"]
}
path "$transit/keys/authz-signing/rotate" {
  capabilities = ["update"]
}
