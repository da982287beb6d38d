"""Dependency hygiene: requirements.lock agrees with pyproject.toml and with what is
installed, and scripts/dependency_audit.py fails on known vulnerabilities only."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", line
        assert not requirement.marker, line
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{name} pinned twice"
        pins[name] = spec.version
    return pins


def _audit_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "dependency_audit", ROOT / "scripts" / "dependency_audit.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


audit = _audit_module()
LOCKED = _pins()


def _requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    return [
        Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    ]


@pytest.mark.parametrize("requirement", _requirements(), ids=str)
def test_every_declared_dependency_is_locked_within_its_range(requirement: Requirement) -> None:
    """Each base and dev dependency has one exact pin that its pyproject range allows (a
    range changed without running scripts/lock fails here)."""
    name = canonicalize_name(requirement.name)
    assert name in LOCKED, f"{name} is not in requirements.lock: run scripts/lock"
    assert requirement.specifier.contains(LOCKED[name], prereleases=True), (
        f"{name}=={LOCKED[name]} is outside {requirement}: run scripts/lock"
    )


def test_the_installed_environment_is_the_locked_one() -> None:
    """Every locked package is installed at its locked version (scripts/install uses the
    lock as constraints): this venv is what a fresh machine gets."""
    wrong = {}
    for name, version in LOCKED.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            wrong[name] = (version, installed)
    assert wrong == {}, "locked vs installed; rerun scripts/install dev (or scripts/lock)"


def test_the_lock_covers_every_installed_dependency_of_the_project() -> None:
    """The transitive runtime and dev requirements, as installed, are all pinned: nothing
    the project pulls in floats."""
    todo = _requirements()
    seen: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        assert name in LOCKED, f"{name} (needed by the project) is not locked"
        for extra in requirement.extras or {""}:
            for raw in metadata.requires(name) or []:
                nested = Requirement(raw)
                if nested.marker is None or nested.marker.evaluate({"extra": extra}):
                    todo.append(nested)


# -- scripts/dependency_audit.py's verdicts -----------------------------------------------


def _pip_report(*deps: dict[str, Any]) -> str:
    return json.dumps({"dependencies": list(deps), "fixes": []})


CLEAN = {"name": "requests", "version": "2.32.5", "vulns": []}
VULNERABLE = {
    "name": "jinja2",
    "version": "2.10",
    "vulns": [{"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"], "aliases": ["CVE-2019-10906"]}],
}
SKIPPED = {"name": "ours", "skip_reason": "Dependency not found on PyPI and could not be audited"}


def test_a_known_vulnerability_fails_in_every_mode() -> None:
    """A vulnerable locked package fails (exit 1) and is named with its advisory and fix."""
    report = audit.read_pip_audit(_pip_report(CLEAN, VULNERABLE), 1)
    assert report.audited == 2
    for mode in ("warn", "require"):
        code, lines = audit.verdict([report], mode)
        assert code == 1
        assert "pypi jinja2 2.10: PYSEC-2019-217 (fixed in 2.10.1)" in "\n".join(lines)


def test_a_clean_set_passes_and_says_how_many_were_audited() -> None:
    """No vulnerability: exit 0, with the count of packages really audited."""
    code, lines = audit.verdict([audit.read_pip_audit(_pip_report(CLEAN, CLEAN), 0)], "require")
    assert code == 0
    assert "2 packages audited, no known vulnerability" in lines[0]


def test_nothing_audited_is_not_a_pass_in_disguise() -> None:
    """pip-audit exits 0 when the service answered for no package; that is reported as an
    audit NOT DONE: a warning by default, a failure under DEPENDENCY_AUDIT=require."""
    report = audit.read_pip_audit(_pip_report(SKIPPED, SKIPPED), 0)
    assert report.unreachable is not None
    code, lines = audit.verdict([report], "warn")
    assert code == 0
    assert "NOT DONE" in lines[0]
    assert "DEPENDENCY_AUDIT=require" in lines[0]
    assert audit.verdict([report], "require")[0] == 1


def test_a_crashed_pip_audit_is_unreachable_data() -> None:
    """No JSON at all (a connection error's traceback): not done, with its last line."""
    report = audit.read_pip_audit("", 1, "Traceback...\nrequests.exceptions.ConnectionError: x")
    assert report.unreachable == "pip-audit failed: requests.exceptions.ConnectionError: x"
    assert audit.verdict([report], "warn")[0] == 0
    assert audit.verdict([report], "require")[0] == 1


def test_packages_unknown_to_the_service_fail_only_when_required() -> None:
    """Some packages audited, one unknown: listed; a failure only under require."""
    report = audit.read_pip_audit(_pip_report(CLEAN, SKIPPED), 0)
    assert (report.audited, report.unaudited) == (1, ["ours"])
    code, lines = audit.verdict([report], "warn")
    assert code == 0
    assert "not audited (unknown to the service): ours" in lines[1]
    assert audit.verdict([report], "require")[0] == 1


NPM_VULNERABLE = {
    "auditReportVersion": 2,
    "vulnerabilities": {
        "jose": {
            "name": "jose",
            "severity": "moderate",
            "via": [{"title": "Resource exhaustion", "url": "https://example.test/GHSA-x"}],
            "range": "<4.15.5",
            "fixAvailable": True,
        },
        "note": {"name": "note", "severity": "info", "via": [], "range": "*"},
    },
    "metadata": {"dependencies": {"total": 120}},
}


def test_npm_vulnerabilities_fail_and_info_notes_do_not() -> None:
    """npm audit's findings of low severity and above fail; an info-level note does not."""
    report = audit.read_npm_audit("npm (x)", json.dumps(NPM_VULNERABLE), 1)
    assert [f.package for f in report.findings] == ["jose"]
    assert report.audited == 120
    code, lines = audit.verdict([report], "warn")
    assert code == 1
    assert "npm jose <4.15.5: moderate https://example.test/GHSA-x (fix available)" in lines[1]
    clean = {**NPM_VULNERABLE, "vulnerabilities": {}}
    assert audit.verdict([audit.read_npm_audit("npm (x)", json.dumps(clean), 0)], "require")[0] == 0


def test_an_npm_service_error_is_unreachable_data() -> None:
    """npm's error object (the advisory endpoint refused) is an audit not done."""
    error = {"message": "405 Method Not Allowed - POST advisories/bulk", "statusCode": 405}
    report = audit.read_npm_audit("npm (x)", json.dumps(error), 1)
    assert report.unreachable == "npm audit failed: 405 Method Not Allowed - POST advisories/bulk"
    assert audit.verdict([report], "warn")[0] == 0
    assert audit.verdict([report], "require")[0] == 1


def test_an_unknown_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """DEPENDENCY_AUDIT accepts warn, require or off only (exit 2 otherwise)."""
    monkeypatch.setenv("DEPENDENCY_AUDIT", "sometimes")
    assert audit.main() == 2
    monkeypatch.setenv("DEPENDENCY_AUDIT", "off")
    assert audit.main() == 0


def test_main_runs_both_audits_and_fails_on_a_python_finding(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() audits the lock with pip-audit (exactly requirements.lock, no resolution) and
    the npm lock; a Python finding fails the run even when npm's service is down. The
    tools are stood in for (their services are unreachable from here)."""
    calls: list[list[str]] = []

    def run(argv: list[str], cwd: Path, timeout: float) -> tuple[str, str, int]:
        calls.append(argv)
        if argv[0].endswith("pip-audit"):
            return _pip_report(CLEAN, VULNERABLE), "", 1
        return json.dumps({"message": "405 Method Not Allowed"}), "", 1

    monkeypatch.setattr(audit, "_run", run)
    monkeypatch.setattr(audit.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.delenv("DEPENDENCY_AUDIT", raising=False)
    assert audit.main() == 1
    pip_audit, npm = calls
    assert pip_audit[1:5] == ["-r", str(ROOT / "requirements.lock"), "--no-deps", "--disable-pip"]
    assert npm == ["npm", "audit", "--json", "--package-lock-only"]
    err = capsys.readouterr().err
    assert "dependency audit FAILED: Python (requirements.lock)" in err
    assert "NOT DONE for npm (tests/support/oidc)" in err
