"""Known vulnerabilities in the locked dependencies (``scripts/audit``, run by scripts/test).

- Python: ``pip-audit`` over ``requirements.lock`` exactly (``--no-deps``: the lock is the
  resolved set), with PyPI's advisory data (its default service).
- npm: ``npm audit`` over the SSO tests' provider (``tests/support/oidc/package-lock.json``)
  and over the docs pages' pinned packages (a lock made for the occasion in a temporary
  folder, only when the npm advisory service answered the first audit).

Any known vulnerability fails (exit 1). When the advisory data cannot be reached, what
happens is ``DEPENDENCY_AUDIT``'s choice: ``warn`` (the default) says loudly that the audit
was not done and passes, so that CI does not fail on someone else's outage; ``require``
fails (for a CI that must not land unaudited code), and treats a package the service did
not know as a failure too; ``off`` skips the audit. pip-audit alone would pass with "No
known vulnerabilities found" after auditing nothing: this counts what was really audited.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
OIDC = ROOT / "tests" / "support" / "oidc"
MODES = ("warn", "require", "off")


@dataclass(frozen=True)
class Finding:
    """One known vulnerability of one locked package."""

    ecosystem: str
    package: str
    version: str
    advisory: str
    fix: str

    def __str__(self) -> str:
        return f"{self.ecosystem} {self.package} {self.version}: {self.advisory} ({self.fix})"


@dataclass(frozen=True)
class Report:
    """What one audit found, and how much of the set it could really check."""

    what: str
    audited: int = 0
    findings: list[Finding] = field(default_factory=list)
    #: Packages the service did not answer for (not on PyPI, or the service unreachable).
    unaudited: list[str] = field(default_factory=list)
    #: Why nothing could be audited at all; None when the service answered.
    unreachable: str | None = None


def read_pip_audit(stdout: str, returncode: int, stderr: str = "") -> Report:
    """A :class:`Report` from ``pip-audit --format json``'s output and exit code."""
    what = "Python (requirements.lock)"
    try:
        data = json.loads(stdout)
        dependencies = list(data["dependencies"])
    except (ValueError, KeyError, TypeError):
        last = (stderr.strip().splitlines() or [f"exit {returncode}, no report"])[-1]
        return Report(what, unreachable=f"pip-audit failed: {last[:300]}")
    findings, unaudited, audited = [], [], 0
    for dep in dependencies:
        name, version = str(dep.get("name")), str(dep.get("version", "?"))
        if "skip_reason" in dep:
            unaudited.append(name)
            continue
        audited += 1
        for vuln in dep.get("vulns") or []:
            fixes = ", ".join(vuln.get("fix_versions") or [])
            findings.append(
                Finding(
                    "pypi",
                    name,
                    version,
                    str(vuln.get("id")),
                    f"fixed in {fixes}" if fixes else "no fix yet",
                )
            )
    if dependencies and not audited:
        return Report(
            what,
            unaudited=unaudited,
            unreachable=f"PyPI's vulnerability data answered for none of {len(unaudited)} "
            "locked packages (per-version project data unreachable)",
        )
    return Report(what, audited, findings, unaudited)


def read_npm_audit(what: str, stdout: str, returncode: int) -> Report:
    """A :class:`Report` from ``npm audit --json``'s output and exit code."""
    try:
        data = json.loads(stdout)
    except ValueError:
        return Report(what, unreachable=f"npm audit gave no report (exit {returncode})")
    if "auditReportVersion" not in data:
        message = str(data.get("message") or data.get("error") or f"exit {returncode}")
        return Report(what, unreachable=f"npm audit failed: {message[:300]}")
    findings = []
    for name, vuln in dict(data.get("vulnerabilities") or {}).items():
        if vuln.get("severity") == "info":
            continue
        advisories = [
            v.get("url") or v.get("title") for v in vuln.get("via") or [] if isinstance(v, dict)
        ]
        via = ", ".join(str(a) for a in advisories) or f"through {vuln.get('via')}"
        fix = "fix available" if vuln.get("fixAvailable") else "no fix yet"
        findings.append(
            Finding("npm", name, str(vuln.get("range", "?")), f"{vuln.get('severity')} {via}", fix)
        )
    total = int(dict(data.get("metadata") or {}).get("dependencies", {}).get("total", 0) or 0)
    return Report(what, total, findings)


def verdict(reports: list[Report], mode: str) -> tuple[int, list[str]]:
    """The exit code and the lines to print for ``reports`` under ``mode``."""
    lines, code = [], 0
    for report in reports:
        if report.findings:
            code = 1
            lines.append(f"dependency audit FAILED: {report.what}: known vulnerabilities:")
            lines += [f"  {finding}" for finding in report.findings]
        elif report.unreachable is not None:
            code = max(code, 1 if mode == "require" else 0)
            lines.append(
                f"dependency audit NOT DONE for {report.what}: {report.unreachable}. "
                + (
                    "DEPENDENCY_AUDIT=require makes this a failure."
                    if mode == "require"
                    else "Passing anyway (DEPENDENCY_AUDIT=warn); set DEPENDENCY_AUDIT="
                    "require to fail instead."
                )
            )
        else:
            lines.append(
                f"dependency audit: {report.what}: {report.audited} packages audited, "
                "no known vulnerability"
            )
        if report.unaudited and report.unreachable is None:
            if mode == "require":
                code = 1
            lines.append(f"  not audited (unknown to the service): {', '.join(report.unaudited)}")
    return code, lines


def _run(argv: list[str], cwd: Path, timeout: float) -> tuple[str, str, int]:
    try:
        done = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return "", f"timed out after {timeout:g} s", 124
    return done.stdout, done.stderr, done.returncode


def _pip_audit() -> Report:
    executable = Path(sys.executable).with_name("pip-audit")
    argv = [str(executable), "-r", str(LOCK), "--no-deps", "--disable-pip"]
    argv += ["--progress-spinner", "off", "--format", "json", "--timeout", "15"]
    stdout, stderr, code = _run(argv, ROOT, timeout=600)
    return read_pip_audit(stdout, code, stderr)


def _npm_audit(what: str, folder: Path) -> Report:
    stdout, _, code = _run(["npm", "audit", "--json", "--package-lock-only"], folder, 120)
    return read_npm_audit(what, stdout, code)


def _docs_assets_audit() -> Report:
    sys.path.insert(0, str(ROOT))
    from shared.web.docs_assets import PACKAGES  # noqa: PLC0415 (only when npm answers)

    what = "npm (the docs pages' pinned packages)"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        deps = {package.name: package.version for package in PACKAGES}
        manifest = {"name": "docs-assets-audit", "private": True, "dependencies": deps}
        (folder / "package.json").write_text(json.dumps(manifest), encoding="utf-8")
        argv = ["npm", "install", "--package-lock-only", "--ignore-scripts", "--no-audit"]
        _, stderr, code = _run([*argv, "--no-fund", "--silent"], folder, 300)
        if code != 0:
            return Report(what, unreachable=f"npm could not resolve them: {stderr.strip()[:300]}")
        return _npm_audit(what, folder)


def main() -> int:
    """Audit, print the verdict, return the exit code."""
    mode = os.environ.get("DEPENDENCY_AUDIT", "warn").strip().lower() or "warn"
    if mode not in MODES:
        print(f"DEPENDENCY_AUDIT must be one of {', '.join(MODES)}; got {mode!r}", file=sys.stderr)
        return 2
    if mode == "off":
        print("dependency audit skipped (DEPENDENCY_AUDIT=off)", file=sys.stderr)
        return 0
    reports = [_pip_audit()]
    if shutil.which("npm") is None:
        reports.append(Report("npm", unreachable="npm is not installed"))
    else:
        oidc = _npm_audit("npm (tests/support/oidc)", OIDC)
        reports.append(oidc)
        if oidc.unreachable is None:
            reports.append(_docs_assets_audit())
    code, lines = verdict(reports, mode)
    for line in lines:
        print(line, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
