"""The Dockerfile and its build context: COPY sources exist and pass .dockerignore, nothing
secret baked in, a non-root user."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from fnmatch import fnmatch
from pathlib import PurePosixPath

import pytest

from tests.support.compose import DOCKERIGNORE, ROOT, SECRETISH
from tests.support.images import dockerfile_instructions, final_stage


def _dockerignored(path: str, patterns: Sequence[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        cleaned = pattern.lstrip("!").strip("/")
        if any(fnmatch(c, cleaned) for c in candidates):
            ignored = not negated
    return ignored


def _dockerignore() -> list[str]:
    lines = DOCKERIGNORE.read_text("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _copy_sources() -> list[str]:
    sources = []
    for keyword, args in dockerfile_instructions():
        if keyword in ("COPY", "ADD"):
            words = shlex.split(args)
            if any(w.startswith("--from") for w in words):
                continue  # from another stage, not the context
            sources += [w for w in words if not w.startswith("--")][:-1]
    return sources


def test_dockerfile_copies_only_existing_sources_the_context_keeps() -> None:
    """Every COPY source exists and .dockerignore lets it into the build context."""
    assert _copy_sources(), "no COPY from the context?"
    patterns = _dockerignore()
    for source in _copy_sources():
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert not _dockerignored(source, patterns), f"COPY {source}: .dockerignore drops it"
    assert not _dockerignored("shared/ops/policies/admin.hcl", patterns)


SECRET_PATHS = [
    ".data/root-token",
    ".env",
    ".git/config",
    ".venv/bin/tokenctl",
    "tests/keys/ec-p256-private.pem",
    "shared/__pycache__/vault.cpython-311.pyc",
]


@pytest.mark.parametrize("path", SECRET_PATHS)
def test_dockerignore_keeps_local_state_out_of_the_context(path: str) -> None:
    """Init material, keys, .env, .git and the venv never reach the builder."""
    assert _dockerignored(path, _dockerignore())


def test_dockerfile_bakes_in_no_secret() -> None:
    """No ENV or ARG gives a secret-looking variable a value; no secret file is copied."""
    for keyword, args in dockerfile_instructions():
        if keyword in ("ENV", "ARG"):
            words = shlex.split(args)
            if keyword == "ENV" and "=" not in words[0]:  # the legacy `ENV NAME value`
                pairs = [(words[0], " ".join(words[1:]))]
            else:
                pairs = [(w.partition("=")[0], w.partition("=")[2]) for w in words]
            for name, value in pairs:
                assert not (SECRETISH.search(name) and value), f"{keyword} {name} has a value"
    for source in _copy_sources():
        assert not re.search(r"\.pem$|\.key$|root-token|\.env$|\.data", source), source


def test_image_runs_as_a_non_root_user() -> None:
    """The final stage switches to a numeric non-root uid before its entry point."""
    users = [args for keyword, args in final_stage() if keyword == "USER"]
    assert users, "no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"USER {users[-1]}: use a numeric uid"
    assert int(uid) != 0, "USER root"
