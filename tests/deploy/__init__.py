"""compose.yaml, the Dockerfile and deploy/, checked without a Docker engine."""
