"""The error tree of :mod:`shared.errors` is drawn once and complete: every code the code
base raises or answers is unique to its class and appears in that docstring."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import shared.errors
from shared.client import ApiError
from shared.errors import ServiceError
from shared.server.oauth_error import OAuthError
from shared.wire import OAuthErrorCode

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "authz_api", "crypto_api", "player")
TREE = shared.errors.__doc__ or ""
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")


def _import_everything() -> None:
    for name in PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)


def _subclasses(base: type) -> list[type]:
    found: list[type] = []
    todo = [base]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.split(".")[0] in PACKAGES and sub not in found:
                found.append(sub)
                todo.append(sub)
    return found


def _drawn(word: str) -> bool:
    return re.search(rf"(?<![A-Za-z_]){re.escape(word)}(?![A-Za-z_])", TREE) is not None


def _codes_in_source() -> set[str]:
    """Code literals as the code base writes them: ``code=`` arguments, ``"code":`` keys,
    the code argument of ``problem(status, title, CODE, …)``, ``Api*(CODE, …)`` and
    ``NotReady(CODE, …)``, and every code-shaped string of an ``errors.py``."""
    codes: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text("utf-8"))
            # A string naming one of the module's own names (``__all__``) is not a code.
            names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            for node in ast.walk(tree):
                values: list[ast.expr] = []
                if isinstance(node, ast.Call):
                    values += [k.value for k in node.keywords if k.arg == "code"]
                    name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                    if name == "problem" and len(node.args) > 2:
                        values.append(node.args[2])
                    if (name.startswith("Api") or name == "NotReady") and node.args:
                        values.append(node.args[0])
                elif isinstance(node, ast.Dict):
                    values += [
                        v
                        for k, v in zip(node.keys, node.values, strict=True)
                        if isinstance(k, ast.Constant) and k.value == "code"
                    ]
                elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "code" for t in node.targets
                ):
                    values.append(node.value)
                if path.name == "errors.py" and isinstance(node, ast.Constant):
                    values.append(node)  # an error table may hold codes in any shape
                codes |= {
                    v.value
                    for v in values
                    if isinstance(v, ast.Constant)
                    and isinstance(v.value, str)
                    and _CODE.match(v.value)
                    and v.value not in names
                }
    return codes


_import_everything()
SERVICE_ERRORS = _subclasses(ServiceError)


def test_the_walk_finds_the_errors_of_every_part() -> None:
    """The walk reaches every part that defines errors (a blind walk would pass anything)."""
    modules = {
        cls.__module__.split(".")[1] if "." in cls.__module__ else "" for cls in SERVICE_ERRORS
    }
    assert {"errors", "server", "vault", "client", "keycloak"} <= modules
    assert any(cls.__module__.startswith("crypto_api") for cls in SERVICE_ERRORS)


@pytest.mark.parametrize("cls", SERVICE_ERRORS, ids=lambda cls: cls.__name__)
def test_every_service_error_and_its_code_are_drawn(cls: type[ServiceError]) -> None:
    """Each ServiceError class and its code appear in the tree of ``shared.errors``."""
    assert _drawn(cls.__name__), f"{cls.__name__} is missing from the tree in shared.errors"
    assert _drawn(cls.code), f"{cls.code} ({cls.__name__}) is missing from shared.errors"


def test_every_code_belongs_to_one_class() -> None:
    """No two classes define the same code (a subclass may inherit its base's)."""
    owners: dict[str, list[str]] = {}
    for cls in SERVICE_ERRORS:
        if "code" in vars(cls):  # a subclass that inherits its base's code shares its meaning
            owners.setdefault(cls.code, []).append(cls.__name__)
    assert {code: names for code, names in owners.items() if len(names) > 1} == {}


@pytest.mark.parametrize(
    "cls",
    [OAuthError, *_subclasses(OAuthError), ApiError, *_subclasses(ApiError)],
    ids=lambda c: c.__name__,
)
def test_the_edge_trees_are_drawn(cls: type) -> None:
    """The OAuthError and ApiError trees are drawn too."""
    assert _drawn(cls.__name__)


@pytest.mark.parametrize("error", OAuthErrorCode.__args__)
def test_every_oauth_error_name_is_drawn(error: str) -> None:
    """Every OAuth ``error`` the Authorization API answers is drawn."""
    assert _drawn(error)


def test_every_code_the_source_writes_is_drawn() -> None:
    """Every code literal the code base writes (answers, summaries) is drawn."""
    codes = _codes_in_source()
    assert {"SATURATED", "HEADERS_TOO_LARGE", "API_TIMEOUT", "TOKEN_INVALID_CLAIMS"} <= codes
    assert sorted(code for code in codes if not _drawn(code)) == []
