"""Helpers of the fault suite (tests/faults/): load clients, a Raft cluster, the services'
stack on a Vault the test may break, and the customer requests; benchmarks reuse them."""
