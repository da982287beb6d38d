# player: verifies tokens — reads accounts and unwraps JWE keys with transit/decrypt.
# It cannot sign bearers nor manage keys.
path "$kv/data/accounts/*" {
  capabilities = ["read"]
}
path "$transit/decrypt/account-*" {
  capabilities = ["update"]
}
