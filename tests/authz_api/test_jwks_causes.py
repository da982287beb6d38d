"""Issue 13, finding 3: a customer's JWKS endpoint that answers 404 is not an outage. The
token endpoint names the cause (the account's JWKS endpoint and its status) in its answer
and in the service log, and refuses for good what no retry fixes."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from shared import Account
from tests.support.authz import Authz
from tests.support.jwks_server import JwksServer


def _jwks_account(make_account: Callable[..., Account], server: JwksServer) -> Account:
    # The query stands for a customer's credential in the URL: never logged.
    return make_account("jwks", algorithms=("RS256",), jwks_uri=f"{server.url}?key=s3cret")


def test_jwks_404_is_a_refusal_named_in_the_answer_and_the_log(
    authz: Authz,
    make_account: Callable[..., Account],
    jwks_server: JwksServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 404 from the account's JWKS endpoint: 400 invalid_grant JWKS_REFUSED naming it (no
    Retry-After, not temporarily_unavailable), and a warning with account, dependency and
    status, without the token or the URL's query."""
    jwks_server.status = 404
    account = _jwks_account(make_account, jwks_server)
    token = authz.secure_token("RS256", "rsa-2048", kid="k1")
    caplog.set_level(logging.WARNING, logger="shared.jwks")
    response = authz.jwt_bearer(account.id, token)
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["error"], body["code"]) == ("invalid_grant", "JWKS_REFUSED")
    assert "the account's JWKS endpoint answered HTTP 404" in body["error_description"]
    assert "Retry-After" not in response.headers
    [record] = [r for r in caplog.records if r.name == "shared.jwks"]
    assert record.levelno == logging.WARNING
    logged = (record.__dict__["account_id"], record.__dict__["dependency"])
    assert (*logged, record.__dict__["status"]) == (account.id, "jwks", 404)
    assert "answered HTTP 404" in record.getMessage()
    everything = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert token not in everything
    assert "s3cret" not in everything


def test_jwks_404_refuses_a_client_assertion_as_invalid_client(
    authz: Authz, make_account: Callable[..., Account], jwks_server: JwksServer
) -> None:
    """The client_credentials grant meets the same cause: 401 invalid_client JWKS_REFUSED."""
    jwks_server.status = 410
    account = _jwks_account(make_account, jwks_server)
    assertion = authz.client_assertion(account.id, "RS256", "rsa-2048", kid="k1")
    response = authz.client_credentials(assertion, client_id=account.id)
    assert response.status_code == 401, response.text
    body = response.json()
    assert (body["error"], body["code"]) == ("invalid_client", "JWKS_REFUSED")
    assert "the account's JWKS endpoint answered HTTP 410" in body["error_description"]


def test_jwks_500_stays_an_outage_that_names_its_cause(
    authz: Authz, make_account: Callable[..., Account], jwks_server: JwksServer
) -> None:
    """A 500 stays a retryable 503 temporarily_unavailable, whose description now says
    which dependency failed and how (our words: the status)."""
    jwks_server.status = 500
    account = _jwks_account(make_account, jwks_server)
    response = authz.jwt_bearer(account.id, authz.secure_token("RS256", "rsa-2048", kid="k1"))
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    body = response.json()
    assert (body["error"], body["code"]) == ("temporarily_unavailable", "UNKNOWN")
    assert body["error_description"] == (
        "the service cannot complete this now (UNKNOWN): the account's JWKS endpoint "
        "answered HTTP 500; retry in a few seconds"
    )
