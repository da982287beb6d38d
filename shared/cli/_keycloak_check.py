"""``tokenctl keycloak check``: exercise a live Keycloak end to end, step by step.

Provisioning through the admin API, both token exchanges through the Authorization API,
and an encryption at the Crypto API with each bearer; a step whose prerequisite failed is
skipped, and the command exits 1 unless every step passed.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

import msgspec
import requests
from joserfc import jws
from joserfc.jwk import OctKey

from shared.accounts.document import Account, SymmetricValidation
from shared.accounts.store import AccountStore
from shared.cli._context import Context
from shared.cli._keycloak import provisioner
from shared.errors import AccountNotFound, ConfigurationError, ServiceError
from shared.keycloak import KeycloakRealm, python_keycloak
from shared.settings import Settings
from shared.wire import CLIENT_ASSERTION_TYPE, JWT_BEARER

__all__ = ["register"]

_CHECK_ACCOUNT: Final = "keycloak-check"


class _Step(msgspec.Struct):
    step: str
    ok: bool | None  # None: skipped
    detail: str


class _Check:
    def __init__(self) -> None:
        self.steps: list[_Step] = []

    def run(self, name: str, fn: Callable[[], str], *, needs: bool = True) -> bool:
        if not needs:
            self.steps.append(_Step(name, None, "skipped: an earlier step failed"))
            return False
        try:
            detail = fn()
        except ServiceError as exc:
            self.steps.append(_Step(name, False, f"{exc.code}: {exc.detail}"))
            return False
        except requests.RequestException as exc:
            self.steps.append(_Step(name, False, f"HTTP: {type(exc).__name__}"))
            return False
        self.steps.append(_Step(name, True, detail))
        return True


def _sign(claims: dict[str, Any], secret: bytes) -> str:
    return jws.serialize_compact(
        {"alg": "HS256", "typ": "JWT"}, json.dumps(claims), OctKey.import_key(secret)
    )


def _answer(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict):
        said = body.get("error_description") or body.get("detail") if isinstance(body, dict) else ""
        raise ConfigurationError(f"{what}: HTTP {response.status_code} {said or ''}".strip())
    return body


def _check_account(ctx: Context) -> tuple[Account, bytes]:
    """The symmetric account the check uses, and its secret (read from Vault: the check
    runs as a Vault admin). Created on the first run and kept as it is afterwards: the
    APIs cache accounts for up to ``cache_ttl``, so a new secret or status would not be
    seen at once."""
    store = AccountStore(ctx.vault())
    try:
        current = store.get(_CHECK_ACCOUNT)
    except AccountNotFound:
        secret = secrets.token_urlsafe(48).encode("ascii")
        validation = SymmetricValidation(algorithms=("HS256",), secret=secret)
        return store.create(Account(id=_CHECK_ACCOUNT, validation=validation)), secret
    v = current.validation
    if not isinstance(v, SymmetricValidation) or "HS256" not in v.algorithms:
        raise ConfigurationError(
            f"account {_CHECK_ACCOUNT!r} exists and is not an HS256 symmetric account: "
            "tokenctl keycloak check needs that name for itself"
        )
    if not current.active:
        current = store.update(msgspec.structs.replace(current, status="active"))
    return current, v.secret


def _keycloak_check(ctx: Context, args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    realm = KeycloakRealm.from_settings(settings)
    authz = (args.authz_url or settings.authz_issuer or "").rstrip("/")
    crypto = args.crypto_url.rstrip("/")
    http = requests.Session()
    check = _Check()
    state: dict[str, Any] = {}

    def installed() -> str:
        return f"python-keycloak {getattr(python_keycloak(), '__version__', '?')}"

    def realm_ready() -> str:
        state["provisioner"] = provisioner(ctx)
        actions = state["provisioner"].ensure_realm()
        return "; ".join(actions) or "scope, broker client and identity provider present"

    def certs() -> str:
        keys = _answer(http.get(realm.certs_url, timeout=10), "certs").get("keys", [])
        return f"{len(keys)} keys at {realm.certs_url}"

    def provision() -> str:
        state["account"], state["secret"] = _check_account(ctx)
        result = state["provisioner"].sync(state["account"])
        return f"account {_CHECK_ACCOUNT}: " + (", ".join(result.actions) or "in sync")

    def pass_through() -> str:
        now = int(time.time())
        assertion = _sign(
            {
                "iss": _CHECK_ACCOUNT,
                "sub": _CHECK_ACCOUNT,
                "aud": realm.token_endpoint,
                "iat": now,
                "exp": now + 60,
                "jti": uuid.uuid4().hex,
            },
            state["secret"],
        )
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion,
        }
        body = _answer(http.post(f"{authz}/oauth/token", data=form, timeout=30), "token")
        state["cc_bearer"] = body["access_token"]
        return f"client_credentials: a bearer for {body.get('expires_in')} s"

    def secure_token() -> str:
        now = int(time.time())
        state["token"] = _sign(
            {"sub": "check", "campaignId": "keycloak-check", "iat": now, "exp": now + 600},
            state["secret"],
        )
        form = {"grant_type": JWT_BEARER, "client_id": _CHECK_ACCOUNT, "assertion": state["token"]}
        body = _answer(http.post(f"{authz}/oauth/token", data=form, timeout=30), "token")
        state["jb_bearer"] = body["access_token"]
        return f"jwt-bearer: a bearer for {body.get('expires_in')} s"

    def encrypt(bearer_key: str) -> Callable[[], str]:
        def run() -> str:
            response = http.post(
                f"{crypto}/v1/encrypt",
                json={"token": state["token"]},
                headers={"Authorization": f"Bearer {state[bearer_key]}"},
                timeout=30,
            )
            body = _answer(response, "encrypt")
            return f"JWE with kid {body.get('kid')}"

        return run

    ok = check.run("python-keycloak installed", installed)
    ok = check.run("admin login, realm prerequisites", realm_ready, needs=ok)
    check.run("realm certs endpoint", certs, needs=ok)
    ok = check.run("provision a symmetric account", provision, needs=ok)
    has_token = check.run("secure token exchanged (jwt-bearer, broker)", secure_token, needs=ok)
    passed = check.run("client assertion passed through", pass_through, needs=has_token)
    check.run("encrypt with the jwt-bearer bearer", encrypt("jb_bearer"), needs=has_token)
    check.run("encrypt with the client_credentials bearer", encrypt("cc_bearer"), needs=passed)
    _report(ctx, check.steps)


def _report(ctx: Context, steps: list[_Step]) -> None:
    failed = [s for s in steps if s.ok is not True]
    data = {"steps": msgspec.to_builtins(steps)}
    mark = {True: "ok  ", False: "FAIL", None: "skip"}
    text = "\n".join(f"{mark[s.ok]}  {s.step}: {s.detail}" for s in steps)
    if not failed:
        ctx.out.result(data, text)
        return
    if ctx.out.as_json:
        print(json.dumps({"ok": False, "code": "KEYCLOAK_CHECK_FAILED", **data}))
        raise SystemExit(1)
    print(text)
    ctx.out.refuse("KEYCLOAK_CHECK_FAILED", f"{len(failed)} of {len(steps)} steps did not pass")


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``keycloak`` and its subcommands."""
    keycloak = sub.add_parser("keycloak", help="the optional Keycloak backend", parents=[common])
    cmds = keycloak.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    check = cmds.add_parser(
        "check",
        parents=[common],
        help="exercise a live Keycloak: provisioning, token exchanges, an encryption",
        description="Against the realm of KEYCLOAK_URL/KEYCLOAK_REALM and the running APIs: "
        "log in as admin, check the realm's prerequisites and certs, provision a throwaway "
        f"symmetric account ({_CHECK_ACCOUNT}, kept for the next run; its secret stays in "
        "Vault), get bearers through the Authorization API (jwt-bearer and "
        "client_credentials; it must run with AUTHZ_BACKEND=keycloak), and encrypt with each "
        "at the Crypto API (CRYPTO_TRUSTED_ISSUERS including keycloak). Prints what works; "
        "exits 1 if anything does not.",
    )
    check.add_argument("--authz-url", metavar="URL", help="Authorization API (AUTHZ_ISSUER)")
    check.add_argument(
        "--crypto-url", metavar="URL", default="http://127.0.0.1:8300", help="Crypto API"
    )
    check.set_defaults(handler=_keycloak_check)
