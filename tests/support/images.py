"""What each image of compose.yaml ships (read from the Dockerfile and the installed
distributions), the commands a shell script runs, and whether an argv runs in an image."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.requirements import Requirement

from shared.cli import build_parser
from tests.support.compose import DOCKERFILE, PYPROJECT, VARIABLE_NAME


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


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", path.read_text("utf-8"))
    result = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
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


def our_image() -> Image:
    exec_form = {k: tuple(json.loads(v)) for k, v in final_stage() if k in ("ENTRYPOINT", "CMD")}
    return Image(
        entrypoint=exec_form.get("ENTRYPOINT", ()),
        cmd=exec_form.get("CMD", ()),
        executables=frozenset(_runtime_console_scripts() | BASE_EXECUTABLES),
    )


def image_of(service: Mapping[str, Any]) -> Image:
    if "build" in service:
        return our_image()
    return THIRD_PARTY[service["image"]]


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
    while argv and (argv[0] in _LEADING_KEYWORDS or re.fullmatch(VARIABLE_NAME + "=.*", argv[0])):
        argv.pop(0)
    while argv and argv[0] in ("exec", "command"):
        argv.pop(0)
    if not argv or argv[0] in _CLOSING_KEYWORDS or argv[0] in _BUILTINS:
        return []
    return argv


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


def run_argv(service: Mapping[str, Any], image: Image) -> list[str]:
    """What the container runs: Compose's entrypoint/command rules over the image's."""
    if "entrypoint" in service:  # an entrypoint set here drops the image's CMD too
        return [*service["entrypoint"], *service.get("command", [])]
    return [*image.entrypoint, *service.get("command", image.cmd)]
