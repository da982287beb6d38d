"""The two service skeletons build from settings and answer liveness."""

from __future__ import annotations

from types import ModuleType

import pytest
from litestar.testing import TestClient

import authz_api.app
import crypto_api.app
from shared import ConfigurationError, Settings


@pytest.mark.parametrize("module", [authz_api.app, crypto_api.app], ids=["authz", "crypto"])
def test_factory_builds_and_is_live(module: ModuleType) -> None:
    """create_app(settings) gives an app whose /health/live answers 200 ok."""
    app = module.create_app(
        Settings(
            vault_addr="http://127.0.0.1:1",
            authz_issuer="http://127.0.0.1:8000",
            authz_single_instance=True,
        )
    )
    with TestClient(app) as client:
        response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("module", [authz_api.app, crypto_api.app], ids=["authz", "crypto"])
def test_apps_require_an_issuer(module: ModuleType) -> None:
    """Both APIs refuse to start without AUTHZ_ISSUER, naming it."""
    with pytest.raises(ConfigurationError, match="AUTHZ_ISSUER"):
        module.create_app(Settings(vault_addr="http://127.0.0.1:1"))


def test_authz_requires_redis_or_single_instance() -> None:
    """Without REDIS_URL the Authorization API refuses to start, in one line naming REDIS_URL
    and AUTHZ_SINGLE_INSTANCE; AUTHZ_SINGLE_INSTANCE=1 lets a single instance start."""
    env = {"VAULT_ADDR": "http://127.0.0.1:1", "AUTHZ_ISSUER": "http://127.0.0.1:8000"}
    with pytest.raises(ConfigurationError) as refused:
        authz_api.app.create_app(Settings.from_env(env))
    message = str(refused.value)
    assert "REDIS_URL" in message
    assert "AUTHZ_SINGLE_INSTANCE" in message
    assert "\n" not in message
    app = authz_api.app.create_app(Settings.from_env({**env, "AUTHZ_SINGLE_INSTANCE": "1"}))
    with TestClient(app) as client:
        assert client.get("/health/live").status_code == 200
