"""The hostile-input corpus, run against the verifier and over HTTP against both APIs."""
