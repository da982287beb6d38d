# authz-api: reads accounts to check assertions, signs bearers with authz-signing.
# No access to account keys.
path "$kv/data/accounts/*" {
  capabilities = ["read"]
}
path "$transit/keys/authz-signing" {
  capabilities = ["read"]
}
path "$transit/sign/authz-signing" {
  capabilities = ["update"]
}
