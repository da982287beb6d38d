"""The package's public face, and python-keycloak's errors mapped at the boundary."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

import shared.keycloak
from shared.errors import ServiceError
from shared.keycloak import KeycloakRefused, KeycloakUnavailable
from shared.keycloak._client import call, python_keycloak


def test_all_is_sorted_and_honest() -> None:
    """``shared.keycloak.__all__`` is sorted, unique, and lists every public name."""
    names = list(shared.keycloak.__all__)
    constants = [n for n in names if n.isupper()]
    assert names == sorted(constants) + sorted(n for n in names if not n.isupper())
    assert len(set(names)) == len(names)
    public = {
        name
        for name, value in vars(shared.keycloak).items()
        if not name.startswith("_")
        and not isinstance(value, type(shared))
        and name != "annotations"
    }
    assert public == set(names)


def _subclasses(cls: type[BaseException]) -> Iterator[type[BaseException]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


EXCEPTIONS = python_keycloak().exceptions


@pytest.mark.parametrize(
    "error",
    [EXCEPTIONS.KeycloakError, *_subclasses(EXCEPTIONS.KeycloakError)],
    ids=lambda e: e.__name__,
)
def test_every_python_keycloak_error_is_mapped(error: type[Exception]) -> None:
    """Every python-keycloak error becomes one of ours: a 4xx is KeycloakRefused (with
    Keycloak's OAuth error), a connection error or a 5xx KeycloakUnavailable."""
    body = json.dumps({"error": "invalid_client", "error_description": "Token is not active"})

    def refuse(status: int) -> None:
        raise error(error_message="x", response_code=status, response_body=body.encode())

    if issubclass(error, EXCEPTIONS.KeycloakConnectionError):
        with pytest.raises(KeycloakUnavailable):
            call("t", lambda: refuse(0))
        return
    with pytest.raises(KeycloakRefused) as refused:
        call("t", lambda: refuse(400))
    assert refused.value.status == 400
    assert refused.value.error == "invalid_client"
    assert refused.value.description == "Token is not active"
    with pytest.raises(KeycloakUnavailable):
        call("t", lambda: refuse(503))


@pytest.mark.parametrize("exc", [TypeError("shape"), KeyError("Location"), ValueError("json")])
def test_answers_of_the_wrong_shape_are_an_outage(exc: Exception) -> None:
    """python-keycloak's TypeError/KeyError on an unexpected answer is KeycloakUnavailable."""

    def fail() -> None:
        raise exc

    with pytest.raises(KeycloakUnavailable) as info:
        call("t", fail)
    assert isinstance(info.value, ServiceError)
    assert info.value.retryable
