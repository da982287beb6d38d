"""Provisioning: ``tokenctl vault bootstrap`` (mounts, keys, the role policies in
``policies/*.hcl``), ``vault init``, and the local development stack of ``tokenctl up``."""

from shared.ops.bootstrap import BootstrapReport, bootstrap, write_approle_credentials
from shared.ops.devstack import Stack
from shared.ops.vault_init import InitReport, init_and_unseal

__all__ = [
    "BootstrapReport",
    "InitReport",
    "Stack",
    "bootstrap",
    "init_and_unseal",
    "write_approle_credentials",
]
