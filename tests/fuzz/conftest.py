"""With ``-v``, the schemathesis run's answers per operation and status, after the tests."""

from __future__ import annotations

import sys

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List what the APIs answered to the generated requests, if schemathesis ran."""
    module = sys.modules.get("tests.fuzz.test_schemathesis")
    answers = getattr(module, "ANSWERS", None)
    if not answers or terminalreporter.config.get_verbosity() < 1:
        return
    terminalreporter.section("schemathesis: answers per operation")
    terminalreporter.write_line(f"{sum(answers.values())} answers")
    for api, label in sorted({(api, label) for api, label, _ in answers}):
        counts = sorted((s, n) for (a, o, s), n in answers.items() if (a, o) == (api, label))
        terminalreporter.write_line(f"{api} {label}: " + ", ".join(f"{s}x{n}" for s, n in counts))
