"""The checked-in OpenAPI documents: current, sound OpenAPI 3.1, served with the interactive
docs, and true: real answers of the three APIs, good and bad, match them.

Schemas are checked with ``jsonschema`` (:func:`schema_errors`): JSON Schema 2020-12, the
dialect of OpenAPI 3.1, with ``$ref`` pointing into the document.
"""

from __future__ import annotations

import importlib.util
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, get_args
from urllib.parse import quote

import httpx
import jsonschema
import pytest
from litestar import Litestar
from litestar.testing import TestClient

import authz_api.app
import authz_api.openapi
import authz_api.schemas
import crypto_api.app
import crypto_api.openapi
import player.app
import player.openapi
from shared import Account, AccountStore, Settings, Vault
from shared.identity import Campaign, PlayerSettings, PlayerStore, ensure_form_keys
from shared.web.docs_assets import ASSETS
from shared.web.docs_pages import CACHE_FOREVER
from shared.wire import CLIENT_ASSERTION_TYPE, GRANT_TYPES, OAuthErrorCode
from tests.support.asgi_server import AsgiServer
from tests.support.authz import serve
from tests.support.crypto import serve_crypto
from tests.support.jwks_server import JwksServer
from tests.support.oidc_provider import OidcProvider
from tests.support.openbao import free_port
from tests.support.player import docs_player
from tests.support.profile_server import ProfileServer
from tests.support.redis_server import RedisServer
from tests.support.sso import USERS, clients, put_sso_account
from tests.support.tokens import claims, private_key, sign

OPENAPI = Path(__file__).resolve().parent.parent / "openapi"
FACTORIES: dict[str, Callable[[Settings], Litestar]] = {
    "authz-api.json": authz_api.app.create_app,
    "crypto-api.json": crypto_api.app.create_app,
    "player.json": docs_player,
}
DOCS_MODULES: dict[str, ModuleType] = {
    "authz-api.json": authz_api.openapi,
    "crypto-api.json": crypto_api.openapi,
    "player.json": player.openapi,
}
#: The media type of each API's error answers (but a page's: :func:`error_media`).
ERROR_MEDIA = {
    "authz-api.json": "application/json",
    "crypto-api.json": "application/problem+json",
    "player.json": "application/problem+json",
}
#: The media type of the player's pages, and of their error screens.
HTML = "text/html"
NOWHERE = "http://127.0.0.1:1"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    """The documents as ``openapi/generate.py`` (what ``scripts/openapi`` runs) makes them."""
    spec = importlib.util.spec_from_file_location("openapi_generate", OPENAPI / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result: dict[str, str] = module.generate()
    return result


def document(name: str) -> dict[str, Any]:
    """A checked-in document."""
    result: dict[str, Any] = json.loads((OPENAPI / name).read_text(encoding="utf-8"))
    return result


def error_media(name: str, op: dict[str, Any]) -> str:
    """The media type ``op``'s errors come in: the API's, or for a page (a success in
    HTML) the error screen's, HTML."""
    successes = [r for status, r in op["responses"].items() if status.startswith("2")]
    if any(HTML in response.get("content", {}) for response in successes):
        return HTML
    return ERROR_MEDIA[name]


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every operation."""
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


# -- JSON Schema (jsonschema) ------------------------------------------------------------


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node``, following ``$ref`` within the document."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def schema_errors(doc: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    """Why ``value`` does not match ``schema`` (empty when it does), by ``jsonschema``.

    ``schema`` is checked as if it stood in ``doc``: the documents' ``$ref``s
    (``#/components/...``) resolve against a root holding the document's components.
    """
    root = {"components": doc.get("components", {}), "allOf": [schema]}
    validator = jsonschema.Draft202012Validator(root)
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(value)]


def schemas_with_examples(node: Any, at: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema in ``node`` that carries ``examples`` (JSON Schema style)."""
    if isinstance(node, dict):
        if isinstance(node.get("examples"), list) and (
            "type" in node or "properties" in node or "oneOf" in node
        ):
            yield at, node
        for key, value in node.items():
            yield from schemas_with_examples(value, f"{at}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from schemas_with_examples(value, f"{at}/{index}")


_PROBE_DOC: dict[str, Any] = {
    "components": {
        "schemas": {
            "Item": {
                "type": "object",
                "properties": {"n": {"type": "integer", "minimum": 1}, "k": {"enum": ["a"]}},
                "required": ["n"],
                "additionalProperties": False,
            }
        }
    }
}


@pytest.mark.parametrize(
    ("schema", "value", "valid"),
    [
        ({"$ref": "#/components/schemas/Item"}, {"n": 1, "k": "a"}, True),
        ({"$ref": "#/components/schemas/Item"}, {"k": "a"}, False),
        ({"$ref": "#/components/schemas/Item"}, {"n": 0}, False),
        ({"$ref": "#/components/schemas/Item"}, {"n": True}, False),
        ({"$ref": "#/components/schemas/Item"}, {"n": 1, "x": 2}, False),
        ({"$ref": "#/components/schemas/Item"}, {"n": 1, "k": "b"}, False),
        ({"type": "array", "items": {"type": "string"}}, ["a", 1], False),
        ({"oneOf": [{"type": "string"}, {"type": "string"}]}, "a", False),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, None, True),
    ],
    ids=["ok", "required", "minimum", "bool-as-int", "extra", "enum", "items", "one-of", "any-of"],
)
def test_the_validator_itself(schema: dict[str, Any], value: Any, valid: bool) -> None:
    """The test's schema check (jsonschema, $refs into the document) accepts what matches and
    refuses each kind of mismatch."""
    assert (not schema_errors(_PROBE_DOC, schema, value)) is valid


# -- the documents are current and sound ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_checked_in_documents_are_current(generated: dict[str, str], name: str) -> None:
    """The checked-in document is exactly what the app generates today."""
    assert set(generated) == set(FACTORIES)
    checked_in = (OPENAPI / name).read_text(encoding="utf-8")
    assert generated[name] == checked_in, (
        f"openapi/{name} is out of date: run scripts/openapi and commit the result"
    )


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_documents_are_sound_openapi_3_1(name: str) -> None:
    """Each operation has an id, a summary, a description and declared tags; each response a
    description and, for errors, a schema in the API's error media type; 429 and 503 carry
    Retry-After; request bodies and every answer have examples; every $ref resolves."""
    doc = document(name)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"]
    assert doc["info"]["description"]
    declared_tags = {tag["name"] for tag in doc["tags"]}
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))
    assert "/metrics" not in doc["paths"]
    for method, path, op in operations(doc):
        where = f"{method.upper()} {path}"
        assert op["summary"], where
        assert op["description"], where
        assert op["tags"], where
        assert set(op["tags"]) <= declared_tags, where
        assert any(status.startswith("2") for status in op["responses"]), where
        if method == "post":
            body = op["requestBody"]
            assert body["required"] is True, where
            for media in body["content"].values():
                assert media["schema"], where
                assert media["examples"], where
        for status, response in op["responses"].items():
            assert response["description"], f"{where} {status}"
            content = response["content"]
            for media in content.values():
                assert media["schema"], f"{where} {status}"
                assert media["examples"], f"{where} {status}"
            if int(status) >= 400:
                assert set(content) == {error_media(name, op)}, f"{where} {status}"
            if status in ("429", "503"):
                assert response["headers"]["Retry-After"]["required"] is True, f"{where} {status}"
    text = json.dumps(doc)
    for fragment in text.split('"$ref": "')[1:]:
        resolve(doc, {"$ref": fragment.split('"', 1)[0]})


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_examples_match_their_schemas(name: str) -> None:
    """Every example (request bodies, responses, parameters, properties) matches its schema:
    fuzzers and readers take them as valid."""
    doc = document(name)
    checked = 0
    for method, path, op in operations(doc):
        parts = [("request", op["requestBody"])] if "requestBody" in op else []
        parts += [(status, response) for status, response in op["responses"].items()]
        for part, holder in parts:
            for media_type, media in holder.get("content", {}).items():
                for key, example in media["examples"].items():
                    errors = schema_errors(doc, media["schema"], example["value"])
                    assert not errors, f"{method} {path} {part} {media_type} {key}: {errors}"
                    checked += 1
        for parameter in op.get("parameters", ()):
            for example in parameter.get("examples", {}).values():
                assert not schema_errors(doc, parameter["schema"], example["value"])
    for at, schema in schemas_with_examples(doc):
        bare = {k: v for k, v in schema.items() if k != "examples"}
        for example in schema["examples"]:
            assert not schema_errors(doc, bare, example), f"{at}: {example!r}"
            checked += 1
    assert checked > 20


def test_crypto_security() -> None:
    """The encrypt operations require the HTTP bearer scheme (a JWT with scope token:encrypt)
    and document its 401/403 challenges; the key set and probes are public."""
    doc = document("crypto-api.json")
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for _, path, op in operations(doc):
        if path.startswith("/v1/encrypt"):
            assert op["security"] == [{"bearerAuth": ["token:encrypt"]}], path
            for status in ("401", "403"):
                assert op["responses"][status]["headers"]["WWW-Authenticate"]["required"], path
        else:
            assert "security" not in op, path
    assert "security" not in doc


def test_authz_token_request() -> None:
    """The token endpoint documents both grants as the service takes them, no HTTP-level
    security (the client authenticates with the JWT in the body), and every error it says."""
    doc = document("authz-api.json")
    op = doc["paths"]["/oauth/token"]["post"]
    assert "security" not in op
    assert "security" not in doc
    form = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    grants = {s["properties"]["grant_type"]["enum"][0]: s for s in form["oneOf"]}
    assert set(grants) == set(GRANT_TYPES)
    credentials = grants["client_credentials"]
    assert credentials["properties"]["client_assertion_type"]["enum"] == [CLIENT_ASSERTION_TYPE]
    assert set(credentials["required"]) == {
        "grant_type",
        "client_assertion_type",
        "client_assertion",
    }
    assert set(grants[GRANT_TYPES[0]]["required"]) == {"grant_type", "assertion", "client_id"}
    # RFC 6749 §5.2: a challenge only for a client that tried the Authorization header.
    challenge = op["responses"]["401"]["headers"]["WWW-Authenticate"]
    assert challenge["required"] is False
    assert challenge["example"] == 'Basic realm="authz-api"'
    assert set(get_args(authz_api.schemas.OAuthErrorCode)) == {
        *get_args(OAuthErrorCode),
        "server_error",
    }


# -- the docs pages are served ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_docs_pages_are_served(name: str) -> None:
    """Over HTTP, /schema is the interactive docs page (Scalar, loading /schema/openapi.json),
    /schema/swagger is Swagger UI, and /schema/openapi.json is exactly the checked-in
    document, even with other settings."""
    app = FACTORIES[name](
        Settings(
            vault_addr=NOWHERE,
            authz_issuer="http://issuer.test:8123",
            authz_single_instance=True,
            crypto_audience="another-audience",
            batch_max=7,
        )
    )
    with AsgiServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        page = http.get("/schema")
        swagger = http.get("/schema/swagger")
        served = http.get("/schema/openapi.json")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '"url": "/schema/openapi.json"' in page.text
    # The pinned bundle, from this service (tests/browser/ renders the pages offline).
    scalar = f"scalar-api-reference-{DOCS_MODULES[name].SCALAR_VERSION}.js"
    assert f'src="/schema/assets/{scalar}"' in page.text
    assert swagger.status_code == 200
    assert swagger.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle" in swagger.text
    assert "https://" not in page.text + swagger.text.split("const ui =")[0]
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    assert served.json() == document(name)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_docs_assets_are_served_by_each_api(name: str) -> None:
    """Each API serves the pages' pinned files itself, cacheable; another method or name is
    refused in the API's own error shape."""
    app = FACTORIES[name](
        Settings(vault_addr=NOWHERE, authz_issuer=NOWHERE, authz_single_instance=True)
    )
    with AsgiServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        served = {asset: http.get(f"/schema/assets/{asset}") for asset in ASSETS}
        post = http.post(f"/schema/assets/{next(iter(ASSETS))}")
        traversal = http.get(httpx.URL("/schema/assets/..%2F..%2Fsettings.py"))
    for asset, answer in served.items():
        assert answer.status_code == 200, asset
        assert answer.headers["cache-control"] == CACHE_FOREVER
    assert post.status_code == 405
    assert traversal.status_code == 404
    for refused in (post, traversal):
        assert refused.headers["content-type"].startswith(ERROR_MEDIA[name])


# -- real answers match the documents ---------------------------------------------------------


class Conformance:
    """Checks real answers against one document, and remembers what it checked."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.seen: set[tuple[str, str, str]] = set()

    def __call__(self, method: str, path: str, response: httpx.Response, status: int) -> None:
        """``response`` (to ``method`` on the templated ``path``) has ``status`` and matches
        the document: status documented, media type, body schema, required headers."""
        where = f"{method} {path} -> {response.status_code} {response.text[:300]}"
        assert response.status_code == status, where
        documented = self.doc["paths"][path][method.lower()]["responses"]
        assert str(status) in documented, f"{where}: status not documented"
        spec = documented[str(status)]
        media = response.headers["content-type"].split(";")[0].strip()
        assert media in spec["content"], f"{where}: {media} not documented"
        body = response.json() if media.endswith("json") else response.text
        errors = schema_errors(self.doc, spec["content"][media]["schema"], body)
        assert not errors, f"{where}: {errors}"
        for name, header in spec.get("headers", {}).items():
            value = response.headers.get(name)
            assert value is not None or not header["required"], f"{where}: no {name}"
            if value is not None:
                schema = resolve(self.doc, header["schema"])
                typed = int(value) if schema.get("type") == "integer" else value
                assert not schema_errors(self.doc, schema, typed), f"{where}: {name}: {value}"
        self.seen.add((method.lower(), path, str(status)))

    def documented(self) -> set[tuple[str, str, str]]:
        """(method, path, status) of every documented answer."""
        return {
            (method, path, status)
            for method, path, op in operations(self.doc)
            for status in op["responses"]
        }

    def generic_error(self, response: httpx.Response, schema: str, media: str) -> None:
        """A framework refusal (405, 404) outside any operation: the API's error shape."""
        assert response.headers["content-type"].startswith(media)
        ref = {"$ref": f"#/components/schemas/{schema}"}
        assert not schema_errors(self.doc, ref, response.json()), response.text


@pytest.fixture
def es256(make_account: Callable[..., Account]) -> Account:
    return make_account(algorithms=("ES256",), key="ec-p256")


class Exploding:
    """A service failing in a way no real dependency does (fault injection, for the 500s)."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("a failure nobody planned for")


def test_authz_answers_as_documented(settings: Settings, vault: object, es256: Account) -> None:
    """Every kind of answer of the Authorization API, good and bad, has a documented status,
    media type, body and headers."""
    check = Conformance(document("authz-api.json"))
    token = sign(claims(), "ES256", "ec-p256")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with serve(settings, rate_limit_per_second=0.0) as authz:
        assertion = authz.client_assertion(es256.id, "ES256", "ec-p256")
        check("POST", "/oauth/token", authz.jwt_bearer(es256.id, token), 200)
        check("POST", "/oauth/token", authz.client_credentials(assertion), 200)
        wrong_key = sign(claims(), "ES256", "ec-p256-other")
        check("POST", "/oauth/token", authz.jwt_bearer(es256.id, wrong_key), 400)
        check("POST", "/oauth/token", authz.http.post("/oauth/token", json={}), 400)
        check("POST", "/oauth/token", authz.token(grant_type="password"), 400)
        check("POST", "/oauth/token", authz.client_credentials(assertion), 401)  # replayed
        check("POST", "/oauth/token", authz.jwt_bearer("no-such-account", token), 401)
        basic = authz.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic YWNtZTpzZWNyZXQ="},
        )
        check("POST", "/oauth/token", basic, 401)
        challenge = document("authz-api.json")["paths"]["/oauth/token"]["post"]["responses"]
        assert (
            basic.headers["www-authenticate"]
            == (challenge["401"]["headers"]["WWW-Authenticate"]["example"])
        )
        big = authz.http.post("/oauth/token", content=b"a" * 70_000, headers=form)
        check("POST", "/oauth/token", big, 413)
        check("GET", "/.well-known/jwks.json", authz.http.get("/.well-known/jwks.json"), 200)
        metadata = authz.http.get("/.well-known/oauth-authorization-server")
        check("GET", "/.well-known/oauth-authorization-server", metadata, 200)
        check("GET", "/health/live", authz.http.get("/health/live"), 200)
        check("GET", "/health/ready", authz.http.get("/health/ready"), 200)
        not_allowed = authz.http.get("/oauth/token")
        assert not_allowed.status_code == 405
        assert not_allowed.headers["allow"]
        check.generic_error(not_allowed, "OAuthErrorResponse", "application/json")
        check.generic_error(authz.http.get("/nowhere"), "OAuthErrorResponse", "application/json")
    limits = {"jwt_bearer_rate_per_second": 0.001, "jwt_bearer_rate_burst": 1}
    with serve(settings, **limits) as limited:
        check("POST", "/oauth/token", limited.jwt_bearer(es256.id, token), 200)
        check("POST", "/oauth/token", limited.jwt_bearer(es256.id, token), 429)
    down_settings = Settings(
        vault_addr=NOWHERE,
        authz_issuer="http://authz.test",
        vault_timeout=1.0,
        authz_single_instance=True,
    )
    down = authz_api.app.create_app(down_settings)
    with AsgiServer(down) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        exchange = http.post(
            "/oauth/token",
            data={"grant_type": GRANT_TYPES[0], "client_id": es256.id, "assertion": token},
        )
        check("POST", "/oauth/token", exchange, 503)
        check("GET", "/.well-known/jwks.json", http.get("/.well-known/jwks.json"), 503)
        check("GET", "/health/ready", http.get("/health/ready"), 503)
    with TestClient(
        authz_api.app.create_app(
            down_settings, overrides={"token_service": Exploding(), "bearers": Exploding()}
        )
    ) as client:
        exploded = client.post("/oauth/token", data={"grant_type": "client_credentials"})
        check("POST", "/oauth/token", exploded, 500)
        check("GET", "/.well-known/jwks.json", client.get("/.well-known/jwks.json"), 500)
    assert check.seen == check.documented()


def test_crypto_answers_as_documented(
    settings: Settings,
    vault: object,
    es256: Account,
    make_account: Callable[..., Account],
    store: AccountStore,
    jwks_server: JwksServer,
) -> None:
    """Every kind of answer of the Crypto API, good and bad, has a documented status, media
    type, body and headers."""
    check = Conformance(document("crypto-api.json"))
    token = sign(claims(), "ES256", "ec-p256")
    disabled = make_account(algorithms=("ES256",), key="ec-p256", id=f"{es256.id}-off")
    with serve(settings, rate_limit_per_second=0.0) as authz:
        with serve_crypto(
            settings, authz, batch_max=2, cache_ttl=0.0, crypto_rate_per_second=0.0
        ) as crypto:
            bearer = crypto.bearer(es256.id)
            auth = {"Authorization": f"Bearer {bearer}"}
            post = crypto.http.post
            check("POST", "/v1/encrypt", crypto.encrypt(bearer, token), 200)
            raw = {**auth, "Content-Type": "application/jwt"}
            check("POST", "/v1/encrypt", post("/v1/encrypt", content=token, headers=raw), 200)
            accept = {**auth, "Accept": "application/jwt"}
            as_jwt = post("/v1/encrypt", json={"token": token}, headers=accept)
            check("POST", "/v1/encrypt", as_jwt, 200)
            wrong_key = sign(claims(), "ES256", "ec-p256-other")
            check("POST", "/v1/encrypt", crypto.encrypt(bearer, wrong_key), 422)
            check("POST", "/v1/encrypt", post("/v1/encrypt", content=b"{", headers=auth), 400)
            check("POST", "/v1/encrypt", crypto.encrypt(None, token), 401)
            check("POST", "/v1/encrypt", crypto.encrypt("not-a-bearer", token), 401)
            big = post("/v1/encrypt", content=b"x" * 40_000, headers=auth)
            check("POST", "/v1/encrypt", big, 413)
            check("POST", "/v1/encrypt/batch", crypto.batch(bearer, [token, "garbage"]), 200)
            check("POST", "/v1/encrypt/batch", crypto.batch(bearer, []), 400)
            check("POST", "/v1/encrypt/batch", crypto.batch(bearer, [token] * 3), 413)
            check("POST", "/v1/encrypt/batch", crypto.batch("not-a-bearer", [token]), 401)
            jwks = "/v1/accounts/{account_id}/jwks.json"
            check("GET", jwks, crypto.http.get(f"/v1/accounts/{es256.id}/jwks.json"), 200)
            check("GET", jwks, crypto.http.get("/v1/accounts/Not_An_Id/jwks.json"), 404)
            check("GET", "/health/live", crypto.http.get("/health/live"), 200)
            check("GET", "/health/ready", crypto.http.get("/health/ready"), 200)
            # A JWKS account whose endpoint refuses once the bearer is issued: the batch is
            # refused once, as a whole (422 JWKS_REFUSED).
            jwks_server.document = {
                "keys": [{**private_key("rsa-2048").as_dict(private=False), "kid": "k1"}]
            }
            by_jwks = make_account(
                "jwks", algorithms=("RS256",), jwks_uri=jwks_server.url, id=f"{es256.id}-jwks"
            )
            rs256 = sign(claims(), "RS256", "rsa-2048", kid="k1")
            exchanged = authz.jwt_bearer(by_jwks.id, rs256)
            assert exchanged.status_code == 200, exchanged.text
            jwks_server.status = 404
            refused = crypto.batch(exchanged.json()["access_token"], [rs256])
            assert refused.json()["code"] == "JWKS_REFUSED", refused.text
            check("POST", "/v1/encrypt/batch", refused, 422)
            disabled_bearer = crypto.bearer(disabled.id)
            store.disable(disabled.id)
            check("POST", "/v1/encrypt", crypto.encrypt(disabled_bearer, token), 403)
            check("POST", "/v1/encrypt/batch", crypto.batch(disabled_bearer, [token]), 403)
            not_allowed = crypto.http.delete("/v1/encrypt")
            assert not_allowed.status_code == 405
            assert not_allowed.headers["allow"]
            check.generic_error(not_allowed, "Problem", "application/problem+json")
            check.generic_error(crypto.http.get("/nowhere"), "Problem", "application/problem+json")
        with serve_crypto(
            settings,
            authz,
            crypto_rate_per_second=0.001,
            crypto_rate_burst=1,
            crypto_batch_rate_per_second=0.001,
            crypto_batch_rate_burst=1,
        ) as limited:
            bearer = limited.bearer(es256.id)
            check("POST", "/v1/encrypt", limited.encrypt(bearer, token), 200)
            check("POST", "/v1/encrypt", limited.encrypt(bearer, token), 429)
            # The batch budget is apart: its first token still passes.
            check("POST", "/v1/encrypt/batch", limited.batch(bearer, [token]), 200)
            check("POST", "/v1/encrypt/batch", limited.batch(bearer, [token]), 429)
        with serve_crypto(
            settings, authz, crypto_jwks_rate_per_second=0.001, crypto_jwks_rate_burst=1
        ) as keys_limited:
            keys = keys_limited.http.get
            check("GET", jwks, keys(f"/v1/accounts/{es256.id}/jwks.json"), 200)
            check("GET", jwks, keys(f"/v1/accounts/{es256.id}/jwks.json"), 429)
        down_settings = Settings(
            vault_addr=NOWHERE,
            vault_timeout=1.0,
            authz_issuer=authz.issuer,
            authz_jwks_url=f"{NOWHERE}/.well-known/jwks.json",
        )
        down = crypto_api.app.create_app(down_settings)
        # A genuine bearer: the down API must fetch the authz JWKS to check it, and cannot.
        auth = {
            "Authorization": f"Bearer {authz.jwt_bearer(es256.id, token).json()['access_token']}"
        }
        with AsgiServer(down) as server, httpx.Client(base_url=server.url, timeout=10) as http:
            encrypt = http.post("/v1/encrypt", json={"token": token}, headers=auth)
            check("POST", "/v1/encrypt", encrypt, 503)
            batch = http.post("/v1/encrypt/batch", json={"tokens": [token]}, headers=auth)
            check("POST", "/v1/encrypt/batch", batch, 503)
            check("GET", jwks, http.get(f"/v1/accounts/{es256.id}/jwks.json"), 503)
            check("GET", "/health/ready", http.get("/health/ready"), 503)
    exploding = crypto_api.app.create_app(down_settings, overrides={"encrypt_service": Exploding()})
    with TestClient(exploding) as client:
        exploded = client.post("/v1/encrypt", json={"token": token})
        check("POST", "/v1/encrypt", exploded, 500)
        exploded = client.post("/v1/encrypt/batch", json={"tokens": [token]})
        check("POST", "/v1/encrypt/batch", exploded, 500)
        check("GET", jwks, client.get(f"/v1/accounts/{es256.id}/jwks.json"), 500)
    assert check.seen == check.documented()


def _sso_answers(
    check: Conformance,
    client: TestClient[Any],
    app_settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    account_id: str,
) -> None:
    """Every documented answer of the SSO routes, and the campaign page's SSO ones, from a
    real player and a real OpenID provider."""
    page, start, callback = (
        "/play/{account}/{campaign}",
        "/sso/{account}/{campaign}",
        "/oauth/callback",
    )
    with OidcProvider(clients(["http://testserver.local/oauth/callback"]), users=USERS) as idp:
        issuer = idp.providers[0].issuer
        ids = {
            name: make_account(id=f"{account_id}-{name}").id
            for name in ("sso", "down", "bad", "gone")
        }
        put_sso_account(vault, ids["sso"], issuer)
        put_sso_account(vault, ids["down"], f"http://127.0.0.1:{free_port()}")
        put_sso_account(vault, ids["bad"], issuer + "/")  # discovery names another issuer
        put_sso_account(vault, ids["gone"], issuer)

        def started(name: str, **query: str) -> httpx.Response:
            return client.get(f"/sso/{ids[name]}/1001", params=query, follow_redirects=False)

        def answer(state_of: httpx.Response, **params: str) -> httpx.Response:
            state = re.search(r"state=([^&]+)", state_of.headers["location"])
            assert state, state_of.headers["location"]
            query = {"state": state.group(1), "iss": issuer, **params}
            return client.get(callback, params=query, follow_redirects=False)

        to_idp = started("sso")
        check("GET", start, to_idp, 302)
        check("GET", start, started("down", popup="1"), 200)
        check("GET", start, client.get(f"/sso/{account_id}/1001"), 404)  # not an SSO account
        check("GET", start, started("bad"), 502)
        check("GET", start, started("down"), 503)
        with httpx.Client(follow_redirects=False) as idp_browser:
            back = idp.providers[0].sign_in(idp_browser, to_idp.headers["location"])
        signed_in = client.get(back, follow_redirects=False)
        check("GET", callback, signed_in, 303)
        check("GET", page, client.get(signed_in.headers["location"]), 200)
        check("GET", callback, answer(started("sso", popup="1"), code="not-a-code"), 200)
        check("GET", callback, client.get(callback, params={"state": "A" * 43}), 400)
        check("GET", callback, answer(started("sso"), error="access_denied"), 403)
        check("GET", callback, answer(started("sso"), code="not-a-code"), 502)
        popup = answer(started("sso", popup="1"), code="not-a-code")
        failed = re.search(r'data-sso-result="([^"]+)"', popup.text)
        assert failed, popup.text
        at = f"/play/{ids['sso']}/1001"
        check("GET", page, client.get(at, params={"sso_result": failed.group(1)}), 502)
        check("GET", page, client.get(at, params={"sso_result": "A" * 43}), 400)
        # Started on one worker, the campaign gone when the answer reaches another (its
        # caches fresh): not found.
        pending = started("gone")
        PlayerStore(vault).put(
            ids["gone"], PlayerSettings(campaigns={"2002": Campaign(title="Other")}), expected=1
        )
        with TestClient(player.app.create_app(app_settings)) as other_worker:
            other_worker.cookies = client.cookies
            state = re.search(r"state=([^&]+)", pending.headers["location"])
            assert state
            gone = other_worker.get(callback, params={"state": state.group(1), "iss": issuer})
        check("GET", callback, gone, 404)


def test_player_answers_as_documented(
    settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    account_id: str,
) -> None:
    """Every kind of answer of the player, pages and JSON, good and bad, has a documented
    status, media type, body and headers."""
    check = Conformance(document("player.json"))
    page, form, identify = (
        "/play/{account}/{campaign}",
        "/play/{account}/{campaign}/participations",
        "/v1/identify",
    )
    campaign = "1001"
    make_account()
    profiled = make_account(id=f"{account_id}-p")
    messaging = make_account(id=f"{account_id}-m")
    ensure_form_keys(vault)
    players = PlayerStore(vault)
    players.put(
        account_id,
        PlayerSettings(campaigns={campaign: Campaign(title="Summer quiz")}),
        expected=0,
    )
    shop = "https://shop.example"
    players.put(
        messaging.id,
        PlayerSettings(
            identification="messages",
            parent_origins=(shop,),
            campaigns={campaign: Campaign(title="Summer quiz")},
        ),
        expected=0,
    )
    profiles = ProfileServer().start()
    redis_server = RedisServer().start()
    try:
        players.put(
            profiled.id,
            PlayerSettings(
                campaigns={campaign: Campaign(title="T")}, profile_api=profiles.url("/401")
            ),
            expected=0,
        )
        fields = {f: getattr(settings, f) for f in settings.__struct_fields__}
        app = player.app.create_app(Settings(**{**fields, "redis_url": redis_server.url}))
        with TestClient(app) as client:
            at = f"/play/{account_id}/{campaign}"

            def token(**extra: Any) -> str:
                return sign(claims(campaign, **extra), "ES256", "ec-p256")

            def shown(**extra: Any) -> str:
                answer = client.get(at, params={"qual_token": token(**extra)})
                check("GET", page, answer, 200)
                found = re.search(r'name="form_token" value="([^"]+)"', answer.text)
                assert found, answer.text
                return found.group(1)

            def post(form_token: str, **headers: str) -> httpx.Response:
                return client.post(
                    f"{at}/participations",
                    content=f"form_token={form_token}&firstname=Ada",
                    headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
                )

            def identified(body: dict[str, Any]) -> httpx.Response:
                return client.post(identify, json=body)

            def from_parent(content: str | bytes, **headers: str) -> httpx.Response:
                return client.post(
                    f"/play/{messaging.id}/{campaign}",
                    content=content,
                    headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
                )

            channel = f"&qual_div=campaign&qual_parent={quote(shop, safe='')}"

            gated = client.get(at, params={"qual_token": token(limit={"canPlay": False})})
            check("GET", page, gated, 200)
            assert 'data-gate="conditions"' in gated.text
            check("GET", page, client.get(at), 422)
            expired = token(exp=int(time.time()) - 3600)
            check("GET", page, client.get(at, params={"qual_token": expired}), 422)
            with_access = sign(claims(campaign, access_token="at-1"), "ES256", "ec-p256")
            refused = client.get(
                f"/play/{profiled.id}/{campaign}", params={"qual_token": with_access}
            )
            check("GET", page, refused, 403)
            check("GET", page, client.get(f"/play/{account_id}/9999"), 404)
            waiting = client.get(
                f"/play/{messaging.id}/{campaign}",
                params={"qual_div": "campaign", "qual_parent": shop},
            )
            check("GET", page, waiting, 200)
            assert 'data-step="waiting"' in waiting.text

            check("POST", page, from_parent(f"qual_token={token()}{channel}"), 200)
            check("POST", page, from_parent(f"qual_token=x&other=1{channel}"), 400)
            cross_site = from_parent(f"qual_token={token()}", Origin="https://evil.example")
            check("POST", page, cross_site, 403)
            check("POST", page, client.post(f"/play/{account_id}/9999", content=b""), 404)
            check("POST", page, from_parent("qual_token=" + "x" * 100_000), 413)
            refused_here = from_parent(f"qual_token={expired}{channel}")
            check("POST", page, refused_here, 422)
            assert 'data-qual-parent="https://shop.example"' in refused_here.text

            check("POST", form, post(shown(sub="once")), 200)
            used = shown(sub="twice")
            check("POST", form, post(used), 200)
            check("POST", form, post(used), 400)  # FORM_USED
            check("POST", form, post(shown(), Origin="https://evil.example"), 403)
            unknown = client.post(
                f"/play/{account_id}/9999/participations",
                content="form_token=x",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            check("POST", form, unknown, 404)
            limited = [shown(sub="one-only", limit={"nb": 1}) for _ in range(2)]
            check("POST", form, post(limited[0]), 200)
            check("POST", form, post(limited[1]), 409)
            check("POST", form, post("x" * 200_000), 413)

            body = {"account": account_id, "campaign": campaign, "token": token()}
            check("POST", identify, identified(body), 200)
            check("POST", identify, client.post(identify, content=b"[1,2"), 400)
            profile = {"account": profiled.id, "campaign": campaign, "token": with_access}
            check("POST", identify, identified(profile), 403)
            check("POST", identify, identified({**body, "campaign": "9999"}), 404)
            too_big = client.post(identify, content=b"x" * 100_000)
            check("POST", identify, too_big, 413)
            check("POST", identify, identified({**body, "token": expired}), 422)
            check("GET", "/health/live", client.get("/health/live"), 200)
            check("GET", "/health/ready", client.get("/health/ready"), 200)
            app_settings = Settings(**{**fields, "redis_url": redis_server.url})
            _sso_answers(check, client, app_settings, vault, make_account, account_id)
            not_allowed = client.get(identify)
            assert not_allowed.status_code == 405
            assert not_allowed.headers["allow"]
            check.generic_error(not_allowed, "Problem", "application/problem+json")
            check.generic_error(client.get("/nowhere"), "Problem", "application/problem+json")

            # A budget of one identification per account: the next ones wait (429).
            limited = {"player_rate_per_second": 0.001, "player_rate_burst": 1}
            slow_app = player.app.create_app(
                Settings(**{**fields, "redis_url": redis_server.url, **limited})
            )
            with TestClient(slow_app) as slow:
                first = slow.get(at, params={"qual_token": token(sub="first")})
                check("GET", page, first, 200)
                check("GET", page, slow.get(at, params={"qual_token": token()}), 429)
                check("POST", identify, slow.post(identify, json=body), 429)
                waited = slow.post(
                    f"{at}/participations",
                    content="form_token=x",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                check("POST", form, waited, 429)
                for status in (200, 429):
                    parent = slow.post(
                        f"/play/{messaging.id}/{campaign}",
                        content=f"qual_token={token()}{channel}",
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    )
                    check("POST", page, parent, status)

            # Redis gone: what needs a participation count is UNKNOWN, to retry.
            pending = shown(sub="pending", limit={"nb": 3})
            redis_server.stop()
            counted = token(sub="counted", limit={"nb": 3})
            check("GET", page, client.get(at, params={"qual_token": counted}), 503)
            check("POST", form, post(pending), 503)
            check("POST", identify, identified({**body, "token": counted}), 503)
            counted_too = token(sub="counted-too", limit={"nb": 3})
            check("POST", page, from_parent(f"qual_token={counted_too}{channel}"), 503)
            check("GET", "/health/ready", client.get("/health/ready"), 503)
            # The sign-in's state cannot be read: retryable.
            down = client.get("/oauth/callback", params={"state": "A" * 43})
            check("GET", "/oauth/callback", down, 503)
    finally:
        redis_server.stop()
        profiles.stop()
    exploding = player.app.create_app(
        Settings(**{**fields, "redis_url": redis_server.url}), overrides={"player": Exploding()}
    )
    with TestClient(exploding) as client:
        check("GET", page, client.get(at, params={"qual_token": token()}), 500)
        exploded = client.post(
            f"{at}/participations",
            content="form_token=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        check("POST", form, exploded, 500)
        check("POST", identify, client.post(identify, json=body), 500)
        exploded = client.post(
            at,
            content="qual_token=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        check("POST", page, exploded, 500)
        check("GET", "/sso/{account}/{campaign}", client.get(f"/sso/{account_id}/1001"), 500)
    exploding_sso = player.app.create_app(
        Settings(**{**fields, "redis_url": redis_server.url}),
        overrides={"player": Exploding(), "sso": Exploding()},
    )
    with TestClient(exploding_sso) as client:
        exploded = client.get("/oauth/callback", params={"state": "A" * 43})
        check("GET", "/oauth/callback", exploded, 500)
    assert check.seen == check.documented()


#: Keywords that annotate a schema without constraining it (JSON Schema 2020-12 meta-data
#: and format vocabularies, and OpenAPI 3.1's own: discriminator, xml, externalDocs).
_ANNOTATIONS = {
    "$comment", "$defs", "$id", "$schema", "contentEncoding", "contentMediaType", "default",
    "deprecated", "description", "discriminator", "example", "examples", "externalDocs",
    "format", "readOnly", "title", "writeOnly", "xml",
}  # fmt: skip
_SUBSCHEMAS = ("items", "additionalProperties", "not", "contains", "propertyNames")


def _schemas(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema of the document (components, media, parameters, headers) and each of
    their subschemas, with where it is."""

    def walk(schema: Any, at: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if not isinstance(schema, dict):
            return
        yield at, schema
        for key in _SUBSCHEMAS:
            yield from walk(schema.get(key), f"{at}/{key}")
        for key in ("properties", "$defs", "patternProperties"):
            for name, sub in schema.get(key, {}).items():
                yield from walk(sub, f"{at}/{key}/{name}")
        for key in ("oneOf", "anyOf", "allOf", "prefixItems"):
            for index, sub in enumerate(schema.get(key, ())):
                yield from walk(sub, f"{at}/{key}/{index}")

    for name, schema in node.get("components", {}).get("schemas", {}).items():
        yield from walk(schema, f"#/components/schemas/{name}")
    text = json.dumps(node)
    assert '"schema"' in text
    todo: list[tuple[str, Any]] = [("#", node)]
    while todo:
        at, value = todo.pop()
        if isinstance(value, dict):
            for key, sub in value.items():
                if key == "schema":
                    yield from walk(sub, f"{at}/schema")
                elif key != "components":
                    todo.append((f"{at}/{key}", sub))
        elif isinstance(value, list):
            todo += [(f"{at}/{i}", sub) for i, sub in enumerate(value)]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_schemas_use_only_keywords_the_validator_knows(name: str) -> None:
    """jsonschema ignores a keyword it does not know (a misspelt ``maxLenght`` would check
    nothing), so every keyword is one it validates or a known annotation, and each schema
    is itself valid under the 2020-12 meta-schema."""
    known = set(jsonschema.Draft202012Validator.VALIDATORS) | _ANNOTATIONS
    seen = 0
    for at, schema in _schemas(document(name)):
        assert set(schema) <= known, f"{at}: unknown keywords {set(schema) - known}"
        jsonschema.Draft202012Validator.check_schema(schema)
        seen += 1
    assert seen > 20
