"""compose.yaml's invariants: healthchecks, loopback-only ports, secrets only from the
environment, each API handed its own AppRole credentials, settings the services read."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest

from shared import settings as settings_module
from shared.settings import Settings
from tests.support.compose import (
    ROOT,
    SECRETISH,
    SERVICES,
    TEST_ENV,
    VARIABLE_NAME,
    MissingVariable,
    interpolate,
    load_compose,
    service_environment,
)
from tests.support.images import final_stage


def _one_shot(services: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Services others wait for to *complete*: they run once and exit."""
    return {
        dependency
        for service in services.values()
        if isinstance(service.get("depends_on"), dict)
        for dependency, how in service["depends_on"].items()
        if how.get("condition") == "service_completed_successfully"
    }


def test_long_running_services_have_healthchecks() -> None:
    """Every service but the one-shot ones has a healthcheck; one-shot ones never restart."""
    one_shot = _one_shot(SERVICES)
    assert one_shot == {"vault-init"}
    for name, service in SERVICES.items():
        if name in one_shot:
            assert service.get("restart") == "no", name
        else:
            assert service["healthcheck"]["test"], name


def test_published_ports_are_loopback_only() -> None:
    """Every published port binds 127.0.0.1 on the host."""
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: use the 'IP:HOST:CONTAINER' form"
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


_FROM_ENVIRONMENT = re.compile(r"\$\{" + VARIABLE_NAME + r"(?::?\?[^}]*|:?-)?\}")


def test_secrets_come_only_from_the_environment() -> None:
    """Secret-looking variables are one `${NAME}` with no default; credentials in URLs
    too; `*_FILE` variables name files on a read-only volume."""
    for name, service in SERVICES.items():
        read_only_targets = [
            m.split(":")[1] for m in service.get("volumes", []) if m.endswith(":ro")
        ]
        for key, value in service_environment(service).items():
            where = f"{name}.environment.{key}"
            if key.endswith("_FILE"):
                assert any(value.startswith(f"{t}/") for t in read_only_targets), where
            elif SECRETISH.search(key):
                assert _FROM_ENVIRONMENT.fullmatch(value), f"{where} must be ${{NAME}} only"
            # Credentials in a URL: only `${NAME}` parts (and the `:` between them).
            userinfo = re.search(r"://([^/@]*)@", _FROM_ENVIRONMENT.sub("", value))
            assert not userinfo or set(userinfo.group(1)) <= {":"}, where


def test_secret_rule_catches_a_literal_or_a_default() -> None:
    """A literal secret or a default value for one is refused by the rule above."""
    for bad in ("hunter2", "${PASSWORD:-hunter2}", "x${PASSWORD}"):
        assert not _FROM_ENVIRONMENT.fullmatch(bad), bad
    for good in ("${PASSWORD}", "${PASSWORD:?set it}", "${PASSWORD:-}"):
        assert _FROM_ENVIRONMENT.fullmatch(good), good


def test_commands_carry_no_interpolated_values() -> None:
    """No `${...}` in commands or healthchecks: an argument shows in every host user's
    `ps`, so values travel in the environment (`$$` escapes for the shell are fine)."""
    for name, service in SERVICES.items():
        parts = [service.get("entrypoint", []), service.get("command", [])]
        if "healthcheck" in service:
            parts.append(service["healthcheck"]["test"])
        for part in parts:
            for arg in [part] if isinstance(part, str) else part:
                assert "$" not in arg.replace("$$", ""), f"{name}: {arg!r}"


def _named_volume_mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """Mount target -> named volume (bind mounts start with `.` or `/`)."""
    mounts = {}
    for mount in service.get("volumes", []):
        source, target = mount.split(":")[:2]
        if not source.startswith((".", "/")):
            mounts[target] = source
    return mounts


def test_each_api_reads_credentials_only_vault_init_writes_for_it() -> None:
    """Each API's AppRole files are on a volume vault-init fills and no other API mounts."""
    init_mounts = _named_volume_mounts(SERVICES["vault-init"])
    seen: dict[str, str] = {}
    for api in ("authz-api", "crypto-api", "player"):
        env = service_environment(SERVICES[api])
        mounts = _named_volume_mounts(SERVICES[api])
        for key in ("VAULT_ROLE_ID_FILE", "VAULT_SECRET_ID_FILE"):
            target = str(PurePosixPath(env[key]).parent)
            volume = mounts[target]
            assert init_mounts.get(target) == volume, f"{api}: vault-init does not fill {volume}"
            assert seen.setdefault(volume, api) == api, f"{volume} is shared by two APIs"
        assert "openbao-init" not in mounts.values(), f"{api} must not see the root token"


def test_environment_names_are_ones_settings_reads() -> None:
    """Every variable our services get is one `Settings.from_env` reads (a typo'd name
    would be silently ignored)."""
    # The private table on purpose: it is the list from_env walks.
    known = set(settings_module._ENV) | {f"{n}_FILE" for n in settings_module._FILE_ENV}
    for name, service in SERVICES.items():
        if "build" in service:
            unknown = set(service_environment(service)) - known
            assert not unknown, f"{name}: {sorted(unknown)}"


def _container_port(service: Mapping[str, Any]) -> int:
    return int(service["ports"][0].rsplit(":", 1)[1])


def _serve_port(service: Mapping[str, Any]) -> int:
    command = service["command"]
    return int(command[command.index("--port") + 1])


@pytest.mark.parametrize("api", ["authz-api", "crypto-api", "player"])
def test_api_settings_from_the_compose_environment(api: str, tmp_path: Path) -> None:
    """The API's environment builds valid Settings: AppRole login, and every address a
    service of this file on the port that service listens on."""
    service = SERVICES[api]
    env = {k: interpolate(v, TEST_ENV) for k, v in service_environment(service).items()}
    for key in ("VAULT_ROLE_ID_FILE", "VAULT_SECRET_ID_FILE"):
        (tmp_path / key).write_text(f"{key}-value\n")
        env[key] = str(tmp_path / key)
    settings = Settings.from_env(env)
    assert settings.uses_approle
    assert settings.vault_secret_id == "VAULT_SECRET_ID_FILE-value"
    assert _serve_port(service) == _container_port(service)
    health = re.search(r"http://127\.0\.0\.1:(\d+)/health/ready", str(service["healthcheck"]))
    assert health, "no /health/ready check"
    assert int(health.group(1)) == _serve_port(service)
    vault = urlsplit(settings.vault_addr)
    assert (vault.hostname, vault.port) == ("openbao", _container_port(SERVICES["openbao"]))
    if api in ("authz-api", "player"):
        assert settings.redis_url
        redis = urlsplit(settings.redis_url)
        assert (redis.hostname, redis.port, redis.password) == (
            "redis",
            6379,
            "redis-test-password",
        )
    if api == "player":
        # What a participant's browser reaches: the forms are checked against it.
        assert settings.player_public_url == "http://127.0.0.1:8400"
        return
    assert settings.authz_issuer == "http://127.0.0.1:8100"  # what a customer reaches
    if api == "crypto-api":
        jwks = urlsplit(settings.jwks_url or "")
        authz = SERVICES["authz-api"]
        assert (jwks.hostname, jwks.port) == ("authz-api", _serve_port(authz))
        assert jwks.path == "/.well-known/jwks.json"


def test_compose_refuses_to_start_without_the_redis_password() -> None:
    """REDIS_PASSWORD is required (`${...:?}`): without it compose stops, it does not
    start Redis without a password."""
    with pytest.raises(MissingVariable, match="REDIS_PASSWORD"):
        interpolate(service_environment(SERVICES["redis"])["REDIS_PASSWORD"], {})


def test_bind_mounts_exist_in_the_repo() -> None:
    """Every bind-mounted file is in the repo; the Keycloak realm is `secure-token`."""
    for name, service in SERVICES.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).is_file(), f"{name}: {source} is missing"
    realm = json.loads((ROOT / "deploy/keycloak/realm.json").read_text("utf-8"))
    assert realm["realm"] == "secure-token"
    assert realm["enabled"] is True


def test_named_volumes_are_declared_and_their_mount_points_made_in_the_image() -> None:
    """Named volumes are declared; in our image each mount point is created by the
    Dockerfile (owned by the app user), else Docker would create it root-owned."""
    declared = set(load_compose()["volumes"])
    run_lines = " ".join(args for keyword, args in final_stage() if keyword == "RUN")
    for name, service in SERVICES.items():
        for target, volume in _named_volume_mounts(service).items():
            assert volume in declared, f"{name}: volume {volume} is not declared"
            if "build" in service:
                assert target in run_lines.split(), f"{name}: {target} is not made"
