"""python-keycloak is an optional extra: without it, everything but the Keycloak backend
works, and the Keycloak backend says which extra to install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from shared import Account, Settings

ROOT = Path(__file__).resolve().parents[3]

#: Run in a fresh interpreter where ``import keycloak`` fails as if python-keycloak were
#: not installed (a meta-path finder that refuses it, ahead of the real ones).
SCRIPT = r"""
import importlib.abc, json, sys

class NoKeycloak(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "keycloak" or name.startswith("keycloak."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoKeycloak())

import shared, shared.keycloak, shared.cli, authz_api.app, crypto_api.app
from litestar.testing import TestClient
from shared import Settings
from shared.errors import ConfigurationError
from tests.support.tokens import claims, sign

settings = Settings.from_env(
    authz_issuer="http://authz.test", rate_limit_per_second=0.0, authz_single_instance=True
)
result = {"imported_keycloak": "keycloak" in sys.modules}
with TestClient(authz_api.app.create_app(settings)) as client:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "client_id": sys.argv[1],
            "assertion": sign(claims(), "ES256", "ec-p256"),
        },
    )
    result["status"] = response.status_code
    result["dots"] = response.json().get("access_token", "").count(".")
try:
    authz_api.app.create_app(
        Settings.from_env(
            authz_issuer="http://authz.test",
            authz_single_instance=True,
            authz_backend="keycloak",
            keycloak_url="http://kc.test",
            keycloak_realm="r",
        )
    )
except ConfigurationError as exc:
    result["keycloak_backend"] = str(exc)
result["imported_keycloak_after"] = "keycloak" in sys.modules
print(json.dumps(result))
"""


def test_without_python_keycloak(settings: Settings, make_account: Callable[..., Account]) -> None:
    """With python-keycloak unimportable, the packages import, the built-in issuer issues a
    bearer, and AUTHZ_BACKEND=keycloak is a configuration error naming the extra."""
    account = make_account("public_key", algorithms=("ES256",), key="ec-p256")
    env = {
        **os.environ,
        "VAULT_ADDR": settings.vault_addr,
        "VAULT_TOKEN": settings.vault_token or "",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, account.id],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported_keycloak"] is False
    assert result["status"] == 200
    assert result["dots"] == 2  # a compact JWS: our bearer
    assert "pip install 'secure-token-services[keycloak]'" in result["keycloak_backend"]
    assert result["imported_keycloak_after"] is False
