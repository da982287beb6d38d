"""How tokenctl speaks: human text or ``--json``, one-line errors, meaningful exit codes."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import msgspec

from shared.errors import (
    ConfigurationError,
    JwksUnavailable,
    ServiceError,
    VaultForbidden,
    VaultUnavailable,
    VerificationUnavailable,
)

__all__ = ["EXIT_CODES", "Output", "UsageError", "exit_code_for"]

#: Exit codes, also listed in ``tokenctl --help``.
EXIT_CODES = {
    0: "success",
    1: "refused: the token, account or key operation is invalid (the reason is printed)",
    2: "usage error (bad arguments, or a --key, --claims or secret file that cannot be used)",
    3: "Vault or a JWKS endpoint unavailable: retry later",
    4: "forbidden or misconfigured (check VAULT_* settings and policies)",
}


class UsageError(Exception):
    """A typing mistake of the caller (an argument, a key or secret file, ``--claims``):
    printed as ``USAGE_ERROR`` with its reason, exit 2. Not a :class:`ServiceError`: it
    never leaves the command line."""

    code = "USAGE_ERROR"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def exit_code_for(exc: ServiceError) -> int:
    """The process exit code for an error."""
    if isinstance(exc, VaultUnavailable | JwksUnavailable | VerificationUnavailable):
        return 3
    if isinstance(exc, VaultForbidden | ConfigurationError):
        return 4
    return 1


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


class Output:
    """Writes results and errors to stdout/stderr in the chosen format."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def result(self, data: dict[str, Any], text: str) -> None:
        """Print a success: ``data`` as JSON (with ``ok: true``) or ``text``."""
        if self.as_json:
            print(json.dumps({"ok": True, **_plain(data)}, indent=None, sort_keys=False))
        else:
            print(text)

    def fail(self, exc: ServiceError) -> NoReturn:
        """Print ``exc`` as one line (or a JSON object) and exit with its code."""
        self.refuse(exc.code, exc.detail, exit_code_for(exc))

    def refuse(self, code: str, detail: str, exit_code: int = 1) -> NoReturn:
        """Fail with a code that is not an exception of ours (usage-level problems)."""
        if self.as_json:
            print(json.dumps({"ok": False, "code": code, "detail": detail}))
        else:
            print(f"error: {code}: {detail}", file=sys.stderr)
        raise SystemExit(exit_code)

    @staticmethod
    def note(text: str) -> None:
        """A message for the human at the terminal (stderr, never in JSON output)."""
        print(text, file=sys.stderr)
