"""compose.yaml as the tests read it (no Docker engine): the file loaded, Compose's variable
interpolation, and what a service runs and is given in its environment."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
#: Values for the variables compose.yaml requires (``${NAME:?...}``).
TEST_ENV = {"REDIS_PASSWORD": "redis-test-password"}
SECRETISH = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|_KEY\b|AUTH\b")
VARIABLE_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def load_compose(path: Path = COMPOSE) -> dict[str, Any]:
    """compose.yaml (or ``path``) as data, each test its own copy to change."""
    document: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return document


SERVICES: dict[str, dict[str, Any]] = load_compose()["services"]


_INNERMOST = re.compile(r"\$\{(" + VARIABLE_NAME + r")(?:(:?[-?])([^${}]*))?\}")


class MissingVariable(LookupError):
    """A ``${NAME:?message}`` whose variable is not set: compose refuses the file."""


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """What compose makes of ``value``: ``${NAME}``, ``${NAME:-default}``, ``${NAME-d}``,
    ``${NAME:?err}``, ``${NAME?err}``, nested in defaults; ``$$`` is a literal ``$``."""
    text = value.replace("$$", "\0")
    while match := _INNERMOST.search(text):  # innermost first: nested defaults resolve
        name, operator, word = match.groups()
        current = env.get(name)
        unset = current is None or (current == "" and operator is not None and ":" in operator)
        if operator and operator.endswith("?") and unset:
            raise MissingVariable(f"{name}: {word}")
        result = word if operator and operator.endswith("-") and unset else current or ""
        text = text[: match.start()] + result + text[match.end() :]
    return text.replace("\0", "$")


def healthcheck_argv(service: Mapping[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    kind, *rest = [test] if isinstance(test, str) else test
    if kind == "CMD-SHELL" or isinstance(test, str):
        return ["/bin/sh", "-c", rest[0] if rest else kind]
    assert kind == "CMD", test
    return rest


def unescape(argv: Sequence[str]) -> list[str]:
    return [interpolate(arg, {}) for arg in argv]


def service_environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}
