# crypto-api: reads accounts and the public parts of account keys to seal JWEs.
# It cannot decrypt: a compromised crypto API cannot open tokens.
path "$kv/data/accounts/*" {
  capabilities = ["read"]
}
path "$transit/keys/account-*" {
  capabilities = ["read"]
}
path "$transit/keys/authz-signing" {
  capabilities = ["read"]
}
