"""The import directions of DESIGN §3, read from the source of every module in ``shared/``.

A part may only lean on the parts below it. These rules are what keeps the player's
security core (``shared.tokens``) free of server code, and a customer's developer who
imports ``shared.client`` free of Vault's client, Redis and the server side.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"

#: The modules at the top of ``shared/``: the face, and what every part may use.
TOP_LEVEL = {"__init__", "_lazy", "errors", "settings", "algorithms", "wire", "redaction"}
PARTS = {"tokens", "accounts", "vault", "server", "web", "identity", "client", "ops"}
PARTS |= {"keycloak", "cli", "state"}

#: part -> the parts of ours it must never import.
FORBIDDEN: dict[str, set[str]] = {
    "_lazy": PARTS | {"errors", "settings", "wire", "algorithms", "redaction"},
    "errors": PARTS | {"settings", "wire", "algorithms"},
    "wire": PARTS | {"errors", "settings", "algorithms", "redaction"},
    "algorithms": PARTS,
    "settings": PARTS,
    "vault": PARTS - {"vault"},
    "accounts": PARTS - {"accounts", "vault"},
    # Shared state in Redis (connections, rate-limit buckets) leans on nothing of ours.
    "state": PARTS - {"state"},
    "tokens": {"server", "client", "identity", "ops", "web", "keycloak", "cli", "state"},
    "server": {"web", "client", "identity", "ops", "cli"},
    "identity": {"server", "web", "client", "ops", "cli", "keycloak"},
    "web": {"client", "identity", "ops", "cli", "keycloak"},
    # ops' bootstrap creates the player's form keys (shared.identity.form_keys).
    "ops": {"server", "web", "client", "keycloak", "cli"},
    "keycloak": {"web", "client", "identity", "cli"},
    # tokenctl manages the player's settings (tokenctl player) as it manages accounts.
    "cli": {"web"},
}
#: part -> modules it must not import although their part is allowed: an issuer backend
#: plugs into the token service, so the service is never something it needs.
FORBIDDEN_MODULES: dict[str, set[str]] = {"keycloak": {"shared.server.token_service"}}
#: ``shared.client`` imports only these of ours (and itself).
CLIENT_MAY_IMPORT = {"wire", "errors", "client"}
#: Third-party packages only one part of ``shared/`` may import.
ONLY_IN = {"hvac": "vault", "litestar": "web"}


def _part(module: str) -> str:
    """``shared.tokens.compact`` -> ``tokens``; ``shared.errors`` -> ``errors``."""
    return module.split(".")[1] if module.count(".") else "__init__"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module the file imports, at any depth (functions, ``TYPE_CHECKING`` blocks)."""
    package = (
        _module_name(path) if path.name == "__init__.py" else _module_name(path).rsplit(".", 1)[0]
    )
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            # ``from shared import wire`` names a module, not an attribute.
            found |= {f"{module}.{alias.name}" for alias in node.names if module == "shared"}
    return found


MODULES = sorted(SHARED.rglob("*.py"))


def _violations() -> list[str]:
    bad: list[str] = []
    for path in MODULES:
        name = _module_name(path)
        part = _part(name)
        for imported in sorted(_imports(path)):
            top = imported.split(".")[0]
            if top in ONLY_IN and part != ONLY_IN[top]:
                bad.append(f"{name} imports {top} (only shared.{ONLY_IN[top]} may)")
            if top != "shared" or imported == "shared":
                continue
            target = _part(imported)
            if target in FORBIDDEN.get(part, set()):
                bad.append(f"{name} imports {imported} ({part} must not import {target})")
            if imported in FORBIDDEN_MODULES.get(part, set()):
                bad.append(f"{name} imports {imported} ({part} must not import it)")
            if part == "client" and target not in CLIENT_MAY_IMPORT:
                bad.append(f"{name} imports {imported} (client imports only wire and errors)")
    return bad


def test_every_module_belongs_to_a_part() -> None:
    """No flat module creeps back: what is not the face or a base module lives in a part."""
    strays = [
        _module_name(path)
        for path in MODULES
        if (path.parent == SHARED and path.stem not in TOP_LEVEL)
        or (path.parent != SHARED and path.relative_to(SHARED).parts[0] not in PARTS)
    ]
    assert strays == []


def test_imports_follow_the_layers() -> None:
    """No module imports against the directions of DESIGN §3."""
    assert _violations() == []


def test_the_walk_sees_real_imports() -> None:
    """The rules are checked against what the files import (a blind walk passes anything)."""
    verification = _imports(SHARED / "tokens" / "verification.py")
    assert {"shared.errors", "shared.accounts.store"} <= verification
    assert "hvac" in _imports(SHARED / "vault" / "connection.py")


@pytest.mark.parametrize(
    ("entry", "forbidden"),
    [
        (
            "shared.client",
            ("hvac", "redis", "litestar", "shared.server", "shared.tokens", "shared.vault"),
        ),
        (
            "shared.wire",
            ("hvac", "redis", "litestar", "requests", "shared.server", "shared.errors"),
        ),
        ("shared", ("hvac", "redis", "litestar", "shared.server", "shared.vault")),
        ("shared.tokens", ("redis", "litestar", "shared.server", "shared.client", "shared.web")),
        # An issuer backend plugs into the token service: loading it must not load the service.
        ("shared.keycloak._backend", ("redis", "litestar", "shared.server.token_service")),
    ],
)
def test_importing_loads_only_what_it_needs(entry: str, forbidden: tuple[str, ...]) -> None:
    """Checked in a fresh interpreter: ``sys.modules`` after the import, not the source."""
    code = (
        f"import sys, {entry}\n"
        f"loaded = sorted(m for m in sys.modules if m.startswith({forbidden!r}))\n"
        "print(' '.join(loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    assert result.stdout.split() == []
