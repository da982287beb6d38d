# player: verifies tokens — reads accounts and unwraps JWE keys with transit/decrypt.
# It cannot sign bearers nor manage keys.
path "$kv/data/accounts/*" {
  capabilities = ["read"]
}
path "$transit/decrypt/account-*" {
  capabilities = ["update"]
}
# Its own configuration: each account's player settings, and the keys of its form tokens
# (written by the admin and bootstrap; read only here).
path "$kv/data/player/*" {
  capabilities = ["read"]
}
path "$kv/data/player-secrets/form-keys" {
  capabilities = ["read"]
}
# Each account's SSO client secret and webhook secrets (written by the admin).
path "$kv/data/player-secrets/accounts/*" {
  capabilities = ["read"]
}
