"""Generate the checked-in OpenAPI documents from the apps: run ``scripts/openapi``.

The apps are built with fixed settings that reach nothing (Vault on port 1): building an app
and its schema contacts nothing (no startup hook runs), and nothing in the documents may
depend on the settings, since every deployment serves them as they are checked in.
``tests/test_openapi.py`` imports this file to compare its output with the files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from litestar import Litestar

import authz_api.app
import crypto_api.app
import player.app
from shared import Settings

HERE: Final = Path(__file__).resolve().parent
#: Settings that point nowhere: the documents do not depend on them.
SETTINGS: Final = Settings(
    vault_addr="http://127.0.0.1:1",
    authz_issuer="https://authz.example.com",
    authz_single_instance=True,
    redis_url="redis://127.0.0.1:1/0",
)
#: File name -> app factory.
DOCUMENTS: Final[dict[str, Callable[[Settings], Litestar]]] = {
    "authz-api.json": authz_api.app.create_app,
    "crypto-api.json": crypto_api.app.create_app,
    "player.json": player.app.create_app,
}


def render(document: dict[str, Any]) -> str:
    """A document as checked in: sorted keys, 2-space indent, UTF-8, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """The text of each document, by file name."""
    return {
        name: render(factory(SETTINGS).openapi_schema.to_schema())
        for name, factory in DOCUMENTS.items()
    }


def main() -> None:
    """Write the documents that changed."""
    for name, text in generate().items():
        path = HERE / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            print(f"openapi/{name}: unchanged")
        else:
            path.write_text(text, encoding="utf-8")
            print(f"openapi/{name}: written")


if __name__ == "__main__":
    main()
