# OpenBao server configuration for compose.yaml, mounted read-only at
# /openbao/config/openbao.hcl (the image's entrypoint starts `bao server
# -config=/openbao/config`). No secret here: the unseal key and root token are created by
# `tokenctl vault init` at run time.

# Integrated (Raft) storage: OpenBao 2.x's file-based storage (the `file` backend is gone)
# and the way to high availability later (more nodes with `retry_join`). One node here.
storage "raft" {
  # The image's writable data directory (owned by its `openbao` user); the compose
  # volume `openbao-data` is mounted here, so data survives a container restart.
  path    = "/openbao/file"
  node_id = "openbao-1"
  # OpenBao's Raft docs recommend 1 for production; the single node also elects itself
  # in about a second instead of seven.
  performance_multiplier = 1
}

listener "tcp" {
  address = "0.0.0.0:8200"
  # DEMO ONLY: plain HTTP on the compose network; the published port is bound to
  # 127.0.0.1 on the host. In production, terminate TLS here (tls_cert_file and
  # tls_key_file from mounted secrets) and give the clients VAULT_CACERT.
  tls_disable = true
}

# How clients and (future) peers reach this node on the compose network.
api_addr     = "http://openbao:8200"
cluster_addr = "http://openbao:8201"

ui = false
