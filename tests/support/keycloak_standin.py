"""A STAND-IN for the few Keycloak endpoints our adapter calls. It is not Keycloak.

No Keycloak server can run here, so the adapter (python-keycloak underneath) is tested
against this small threaded HTTP server, with real HTTP and real signatures (joserfc).
It implements only what we call, the way Keycloak documents and codes it; every rule it
encodes cites where Keycloak says so (paths in github.com/keycloak/keycloak unless noted,
python-keycloak paths in github.com/marcospereirampj/python-keycloak). What it does not
encode (client policies, sessions, most validation) it simply does not do.

- ``POST /realms/{realm}/protocol/openid-connect/token``: the admin login (password grant
  of ``admin-cli`` in ``master``, or client credentials with a secret), ``client_credentials``
  with a client assertion (``client-jwt``: the client's JWKS URL or certificate;
  ``client-secret-jwt``: its secret), and the JWT Authorization Grant (RFC 7523 §2.1);
- ``GET /realms/{realm}/protocol/openid-connect/certs``;
- the admin REST API under ``/admin/realms/{realm}``: clients, their protocol mappers and
  default client scopes, client scopes, users and their federated identities, identity
  providers.

Errors are Keycloak's shapes: the token endpoint answers ``{"error", "error_description"}``
(``OAuth2ErrorRepresentation``, via ``ClientAuthUtil.errorResponse`` and
``CorsErrorResponseException``); the admin API ``{"errorMessage"}`` for conflicts
(``services/.../ErrorResponse.exists`` → ``ErrorRepresentation``) and ``{"error"}`` for
404/401 (JAX-RS exceptions).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, RSAKey

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: AuthenticationProcessor.handleClientAuthException: unknown or disabled client → 401.
INVALID_CLIENT = "Invalid client or Invalid client credentials"


class Refusal(Exception):
    """An HTTP error answer: status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def oauth_error(status: int, error: str, description: str) -> Refusal:
    """ClientAuthUtil.errorResponse / CorsErrorResponseException: OAuth2ErrorRepresentation."""
    return Refusal(status, {"error": error, "error_description": description})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unverified(token: str, error: str = "invalid_client") -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header, payload, _ = token.split(".")
        pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
        return (
            json.loads(base64.urlsafe_b64decode(pad(header))),
            json.loads(base64.urlsafe_b64decode(pad(payload))),
        )
    except ValueError:
        # JWTClientAuthenticator.authenticateClient's catch-all (JWTAuthorizationGrantType:
        # invalid_grant).
        raise oauth_error(400, error, "Client authentication with signed JWT failed") from None


class Realm:
    """One realm's state."""

    def __init__(self, name: str, *, access_lifespan: int = 300) -> None:
        self.name = name
        #: RealmRepresentation.accessTokenLifespan (seconds; 300 by default).
        self.access_lifespan = access_lifespan
        self.clients: dict[str, dict[str, Any]] = {}
        self.scopes: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.idps: dict[str, dict[str, Any]] = {}
        #: A new realm gets built-in client scopes (DefaultClientScopes.createDefaultClientScopes;
        #: "profile" maps the username to preferred_username, "basic" holds sub). New
        #: clients get the realm's default default scopes (ClientManager.createClient).
        self.default_scope_ids: list[str] = []
        for scope_name, in_scope in (("basic", "false"), ("profile", "true"), ("email", "true")):
            sid = self.add_scope({"name": scope_name, "protocol": "openid-connect"}, in_scope)
            self.default_scope_ids.append(sid)
        # A realm's default keys: an RS256 signing key and an RSA-OAEP encryption key
        # (keys/GeneratedRsaKeyProviderFactory, GeneratedRsaEncKeyProviderFactory).
        self.key = RSAKey.generate_key(2048, private=True)
        self.enc_key = RSAKey.generate_key(2048, private=True)
        #: SingleUseObjectProvider: used assertion ids until they expire.
        self.used_jti: dict[str, float] = {}

    def add_scope(self, rep: dict[str, Any], include_in_scope: str = "true") -> str:
        sid = str(uuid.uuid4())
        attributes = {"include.in.token.scope": include_in_scope, **(rep.get("attributes") or {})}
        self.scopes[sid] = {**rep, "id": sid, "attributes": attributes}
        return sid

    def scope_named(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.scopes.values() if s["name"] == name), None)

    def client_by_client_id(self, client_id: str) -> dict[str, Any] | None:
        return next((c for c in self.clients.values() if c["clientId"] == client_id), None)

    def user_named(self, username: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values() if u["username"] == username.lower()), None)

    def add_user(self, rep: dict[str, Any]) -> str:
        if self.user_named(rep["username"]):
            # UsersResource.createUser: ErrorResponse.exists("User exists with same username").
            raise Refusal(409, {"errorMessage": "User exists with same username"})
        uid = str(uuid.uuid4())
        self.users[uid] = {
            "id": uid,
            "username": rep["username"].lower(),  # Keycloak keeps usernames lower-case
            "enabled": bool(rep.get("enabled", False)),
            "federatedIdentities": [],
            **{k: v for k, v in rep.items() if k == "serviceAccountClientId"},
        }
        return uid

    def add_client(self, rep: dict[str, Any]) -> str:
        if self.client_by_client_id(rep["clientId"]):
            # ClientsResource.createClient: ErrorResponse.exists("Client X already exists").
            raise Refusal(409, {"errorMessage": f"Client {rep['clientId']} already exists"})
        cid = str(uuid.uuid4())
        client = {
            "id": cid,
            "enabled": True,
            "publicClient": False,
            "bearerOnly": False,
            "serviceAccountsEnabled": False,
            "clientAuthenticatorType": "client-secret",
            "attributes": {},
            **{k: v for k, v in rep.items() if k not in ("protocolMappers", "id")},
        }
        client["attributes"] = {k: v for k, v in client["attributes"].items() if v is not None}
        if not client["publicClient"] and not client.get("secret"):
            client["secret"] = secrets.token_urlsafe(24)  # KeycloakModelUtils.generateSecret
        client["protocolMappers"] = [
            {**m, "id": str(uuid.uuid4())} for m in rep.get("protocolMappers") or []
        ]
        client["defaultScopeIds"] = list(self.default_scope_ids)
        self.clients[cid] = client
        self.ensure_service_account(client)
        return cid

    def ensure_service_account(self, client: dict[str, Any]) -> None:
        """ClientsResource.createClient / ClientManager.enableServiceAccount: a client with
        service accounts gets a user ``service-account-<clientId>``
        (ServiceAccountConstants.SERVICE_ACCOUNT_USER_PREFIX)."""
        if client["serviceAccountsEnabled"] and not any(
            u.get("serviceAccountClientId") == client["id"] for u in self.users.values()
        ):
            self.add_user(
                {
                    "username": f"service-account-{client['clientId']}",
                    "enabled": True,
                    "serviceAccountClientId": client["id"],
                }
            )

    def represent(self, client: dict[str, Any]) -> dict[str, Any]:
        """ModelToRepresentation.toRepresentation (ClientRepresentation, with its secret
        and default client scope names)."""
        rep = {k: v for k, v in client.items() if k != "defaultScopeIds"}
        rep["defaultClientScopes"] = [self.scopes[s]["name"] for s in client["defaultScopeIds"]]
        return rep


class KeycloakStandIn:
    """``with KeycloakStandIn() as kc: kc.url`` — see the module docstring.

    Args:
        admin_password: the master realm's ``admin`` user (Keycloak's bootstrap admin).

    ``frontend_url`` is the URL Keycloak writes into ``iss`` (its hostname setting); by
    default the URL it listens on.
    """

    def __init__(self, *, admin_password: str = "admin-password") -> None:  # noqa: S107
        self.admin = ("admin", admin_password)
        #: Clients (by realm and client id) whose secret logs in to the admin API.
        self.admin_clients: dict[tuple[str, str], str] = {}
        self._admin_tokens: set[str] = set()
        self.realms: dict[str, Realm] = {"master": Realm("master")}
        # admin-cli: the public client of the master realm the admin logs in with
        # (RealmManager.setupAdminCli).
        self.realms["master"].add_client(
            {"clientId": "admin-cli", "publicClient": True, "serviceAccountsEnabled": False}
        )
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.RLock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _run(self, method: str) -> None:
                owner.requests.append((method, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    with owner._lock:
                        status, answer, headers = owner.route(method, self, body)
                except Refusal as refusal:
                    status, answer, headers = refusal.status, refusal.body, {}
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                if answer is not None:
                    self.send_header("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

            def do_GET(self) -> None:
                self._run("GET")

            def do_POST(self) -> None:
                self._run("POST")

            def do_PUT(self) -> None:
                self._run("PUT")

            def do_DELETE(self) -> None:
                self._run("DELETE")

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.frontend_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> KeycloakStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- setup ----------------------------------------------------------------------

    def import_realm(self, document: dict[str, Any]) -> Realm:
        """A realm from a RealmRepresentation (the subset deploy/keycloak/realm.json uses:
        ``realm``, ``accessTokenLifespan``, ``clients``, ``identityProviders``), as
        ``kc.sh start --import-realm`` would create it."""
        realm = Realm(document["realm"], access_lifespan=document.get("accessTokenLifespan", 300))
        for scope in document.get("clientScopes") or []:
            realm.add_scope(
                scope, (scope.get("attributes") or {}).get("include.in.token.scope", "true")
            )
        for client in document.get("clients") or []:
            realm.add_client(client)
        for idp in document.get("identityProviders") or []:
            realm.idps[idp["alias"]] = dict(idp)
        with self._lock:
            self.realms[realm.name] = realm
        return realm

    def issuer(self, realm: str) -> str:
        """Urls.realmIssuer: ``{frontend}/realms/{realm}``."""
        return f"{self.frontend_url}/realms/{realm}"

    # --- routing --------------------------------------------------------------------

    def route(
        self, method: str, request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        path = urlsplit(request.path).path
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        match = re.fullmatch(r"/realms/([^/]+)/protocol/openid-connect/(token|certs)", path)
        if match:
            realm = self._realm(match.group(1))
            if match.group(2) == "certs" and method == "GET":
                return 200, self._certs(realm), {}
            if match.group(2) == "token" and method == "POST":
                form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
                return 200, self._token(realm, form), {"Cache-Control": "no-store"}
        match = re.fullmatch(r"/admin/realms/([^/]+)(/.*)", path)
        if match:
            self._require_admin(request.headers.get("Authorization", ""))
            realm = self._realm(match.group(1))
            data = json.loads(body) if body else None
            return self._admin_api(realm, method, match.group(2), query, data)
        raise Refusal(404, {"error": "Unable to find matching target resource method"})

    def _realm(self, name: str) -> Realm:
        realm = self.realms.get(name)
        if realm is None:
            # RealmsResource.init: NotFoundException("Realm does not exist").
            raise Refusal(404, {"error": "Realm does not exist"})
        return realm

    # --- certs ----------------------------------------------------------------------

    @staticmethod
    def kid(key: RSAKey) -> str:
        return key.thumbprint()

    def _certs(self, realm: Realm) -> dict[str, Any]:
        """OIDCLoginProtocolService.certs: the realm's enabled keys as a JWK set, each with
        kid, alg and use (signature and encryption keys alike)."""
        return {
            "keys": [
                {
                    **realm.key.as_dict(private=False),
                    "kid": self.kid(realm.key),
                    "use": "sig",
                    "alg": "RS256",
                },
                {
                    **realm.enc_key.as_dict(private=False),
                    "kid": self.kid(realm.enc_key),
                    "use": "enc",
                    "alg": "RSA-OAEP",
                },
            ]
        }

    # --- token endpoint -------------------------------------------------------------

    def _token(self, realm: Realm, form: dict[str, str]) -> dict[str, Any]:
        grant = form.get("grant_type")
        if not grant:
            # TokenEndpoint.checkGrantType.
            raise oauth_error(400, "invalid_request", "Missing form parameter: grant_type")
        if grant not in ("password", "client_credentials", JWT_BEARER):
            raise oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")
        client = self._authenticate_client(realm, form)
        if grant == "password":
            return self._admin_login(realm, client, form)
        if (realm.name, client["clientId"]) in self.admin_clients:
            return self._admin_token(realm)
        if grant == "client_credentials":
            return self._client_credentials(realm, client, form)
        return self._jwt_authorization_grant(realm, client, form)

    def _admin_login(
        self, realm: Realm, client: dict[str, Any], form: dict[str, str]
    ) -> dict[str, Any]:
        if realm.name != "master" or (form.get("username"), form.get("password")) != self.admin:
            # ResourceOwnerPasswordCredentialsGrantType: bad credentials → 401 invalid_grant.
            raise oauth_error(401, "invalid_grant", "Invalid user credentials")
        return self._admin_token(realm)

    def _admin_token(self, realm: Realm) -> dict[str, Any]:
        # Opaque here: python-keycloak only sends it back (its lifetime is not under test).
        token = secrets.token_urlsafe(32)
        self._admin_tokens.add(token)
        return {"access_token": token, "expires_in": 60, "token_type": "Bearer"}

    def _require_admin(self, authorization: str) -> None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token not in self._admin_tokens:
            # AdminRoot.authenticateRealmAdminRequest: NotAuthorizedException → 401.
            raise Refusal(401, {"error": "HTTP 401 Unauthorized"})

    def _authenticate_client(self, realm: Realm, form: dict[str, str]) -> dict[str, Any]:
        """ClientAuthenticationFlow: a client assertion (client-jwt, client-secret-jwt), a
        secret (client-secret), or nothing for a public client."""
        if "client_assertion" in form or "client_assertion_type" in form:
            return self._client_assertion(realm, form)
        client = realm.client_by_client_id(form.get("client_id", ""))
        if client is None or not client["enabled"]:
            raise oauth_error(401, "invalid_client", INVALID_CLIENT)
        if client["publicClient"]:
            return client
        secret = form.get("client_secret")
        # ClientIdAndSecretAuthenticator: no secret, or a wrong one → 401 unauthorized_client.
        if client["clientAuthenticatorType"] != "client-secret" or not secret:
            raise oauth_error(401, "unauthorized_client", "Client secret not provided in request")
        if not secrets.compare_digest(secret, client.get("secret", "")):
            raise oauth_error(
                401, "unauthorized_client", "Invalid client or Invalid client credentials"
            )
        return client

    def _client_assertion(self, realm: Realm, form: dict[str, str]) -> dict[str, Any]:
        """AbstractJWTClientValidator.validate, in its order: parameters, client, signature
        algorithm, signature, audience, then exp/iat/jti (AbstractBaseJWTValidator)."""
        fail = lambda d: oauth_error(400, "invalid_client", d)  # noqa: E731
        kind, assertion = form.get("client_assertion_type"), form.get("client_assertion")
        if kind is None:
            raise fail("Parameter client_assertion_type is missing")
        if kind != CLIENT_ASSERTION_TYPE:
            raise fail(
                f"Parameter client_assertion_type has value '{kind}' but expected is "
                f"'{CLIENT_ASSERTION_TYPE}'"
            )
        if assertion is None:
            raise fail("client_assertion parameter missing")
        header, claims = _unverified(assertion)
        subject = claims.get("sub")
        if subject is None:
            raise fail("Token sub claim is required")
        if "client_id" in form and form["client_id"] != subject:
            raise fail("client_id parameter does not match sub claim")
        client = realm.client_by_client_id(subject)
        # JWTClientValidator expects iss = sub; validateClient returns false without an
        # answer when it differs, and the flow ends in AuthenticationProcessor's generic
        # invalid_client, as for an unknown or disabled client.
        if claims.get("iss") != subject or client is None or not client["enabled"]:
            raise oauth_error(401, "invalid_client", INVALID_CLIENT)
        alg = header.get("alg")
        symmetric = isinstance(alg, str) and alg.startswith("HS")
        wanted = "client-secret-jwt" if symmetric else "client-jwt"
        if client["clientAuthenticatorType"] != wanted:
            # "Not configured authenticator for client, ignoring": no authenticator succeeds.
            raise oauth_error(401, "invalid_client", INVALID_CLIENT)
        pinned = client["attributes"].get("token.endpoint.auth.signing.alg")
        if not alg or (pinned and pinned != alg):
            raise fail("Invalid signature algorithm")
        if symmetric:
            # JWTClientSecretAuthenticator: HMAC with the client secret's UTF-8 bytes.
            key: Any = OctKey.import_key(client["secret"].encode("utf-8"))
        else:
            key = self._client_key(client, header)
            if key is None:
                # JWTClientAuthenticator.getSignatureValidationKey.
                raise fail("Unable to load public key")
        self._verify(
            assertion,
            key,
            alg,
            fail,
            "Client authentication with signed JWT failed: "
            "Signature on JWT token failed validation",
        )
        self._check_audience(claims, self._client_audiences(realm), fail)
        self._check_active(realm, claims, fail, skew=15, reuse=False)
        return client

    def _client_audiences(self, realm: Realm) -> list[str]:
        """JWTClientValidator.getExpectedAudiences: issuer, token, introspection, PAR, CIBA."""
        issuer = self.issuer(realm.name)
        base = f"{issuer}/protocol/openid-connect"
        return [
            issuer,
            f"{base}/token",
            f"{base}/token/introspect",
            f"{base}/ext/par/request",
            f"{base}/ext/ciba/auth",
        ]

    def _client_key(self, client: dict[str, Any], header: dict[str, Any]) -> Any:
        """ClientPublicKeyLoader + PublicKeysWrapper.getKeyByKidAndAlg: the JWKS at
        ``jwks.url`` when ``use.jwks.url``, else the ``jwt.credential.certificate`` (kid
        KeyUtils.createKeyId unless stored; it is the default client certificate, matched
        when the assertion has no kid)."""
        kid, alg = header.get("kid"), header.get("alg")
        attributes = client["attributes"]
        if attributes.get("use.jwks.url") == "true":
            try:
                document = requests.get(attributes["jwks.url"], timeout=5).json()
            except (requests.RequestException, ValueError, KeyError):
                return None
            for data in document.get("keys", []):
                if data.get("use", "sig") != "sig":
                    continue
                if (kid is not None and data.get("kid") == kid) or (
                    kid is None and data.get("alg") == alg
                ):
                    return (
                        RSAKey.import_key(data)
                        if data.get("kty") == "RSA"
                        else ECKey.import_key(data)
                    )
            return None
        certificate = attributes.get("jwt.credential.certificate")
        if not certificate:
            return None
        public = x509.load_der_x509_certificate(base64.b64decode(certificate)).public_key()
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if kid is not None and kid != _b64url(hashlib.sha256(der).digest()):
            return None
        pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return RSAKey.import_key(pem) if isinstance(public, RSAPublicKey) else ECKey.import_key(pem)

    @staticmethod
    def _verify(token: str, key: Any, alg: str, fail: Callable[[str], Refusal], why: str) -> None:
        try:
            jws.deserialize_compact(token, key, algorithms=[alg])
        except Exception:  # noqa: BLE001 - any failure to verify is a refusal
            raise fail(why) from None

    @staticmethod
    def _check_audience(
        claims: dict[str, Any], audiences: list[str], fail: Callable[[str], Refusal]
    ) -> None:
        """AbstractBaseJWTValidator.validateTokenAudience; several audiences are refused
        unless the server allows them (OIDCProviderConfig, off by default)."""
        aud = claims.get("aud")
        given = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(a in audiences for a in given):
            raise fail("Invalid token audience")
        if len(given) > 1:
            raise fail("Multiple audiences not allowed")

    @staticmethod
    def _check_active(
        realm: Realm,
        claims: dict[str, Any],
        fail: Callable[[str], Refusal],
        *,
        skew: int,
        reuse: bool,
    ) -> None:
        """AbstractBaseJWTValidator.validateTokenActive (JsonWebToken.isActive with the
        allowed clock skew) and validateTokenReuse (the single-use cache)."""
        now = time.time()
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if exp is None:
            raise fail("Token exp claim is required")
        if now > exp + skew or (nbf is not None and nbf > now + skew):
            raise fail("Token is not active")
        if iat is not None and iat - skew > now:
            raise fail("Token was issued in the future")
        if not reuse:
            jti = claims.get("jti")
            if jti is None:
                raise fail("Token jti claim is required")
            realm.used_jti = {k: v for k, v in realm.used_jti.items() if v > now}
            if jti in realm.used_jti:
                raise fail("Token reuse detected")
            realm.used_jti[jti] = exp

    def _client_credentials(
        self, realm: Realm, client: dict[str, Any], form: dict[str, str]
    ) -> dict[str, Any]:
        """ClientCredentialsGrantType.process: only a confidential client with service
        accounts, whose service-account user exists and is enabled."""
        if client["publicClient"] or client["bearerOnly"]:
            raise oauth_error(
                401, "unauthorized_client", "Public client not allowed to retrieve service account"
            )
        if not client["serviceAccountsEnabled"]:
            raise oauth_error(
                401, "unauthorized_client", "Client not enabled to retrieve service account"
            )
        user = next(
            (u for u in realm.users.values() if u.get("serviceAccountClientId") == client["id"]),
            None,
        )
        if user is None or not user["enabled"]:
            raise oauth_error(
                401,
                "invalid_request",
                "The associated service account for the client does not exist",
            )
        # The user session notes client_id (ServiceAccountConstants.CLIENT_ID), which the
        # service_account client scope maps to the client_id claim.
        return self._issue(realm, client, user, form, service_account=True)

    def _jwt_authorization_grant(
        self, realm: Realm, client: dict[str, Any], form: dict[str, str]
    ) -> dict[str, Any]:
        """JWTAuthorizationGrantType.process (preview feature ``jwt-authorization-grant``,
        Keycloak 26.5): every failure is 400 invalid_grant with the exception's message."""
        fail = lambda d: oauth_error(400, "invalid_grant", d)  # noqa: E731
        if client["attributes"].get("oauth2.jwt.authorization.grant.enabled") != "true":
            # OIDCConfigAttributes.JWT_AUTHORIZATION_GRANT_ENABLED (the wording is ours).
            raise fail("JWT Authorization Grant is not enabled for the client")
        assertion = form.get("assertion") or ""
        header, claims = _unverified(assertion, "invalid_grant")
        if not claims.get("iss") or not claims.get("sub"):
            raise fail("Missing issuer or subject")  # validateIssuer / validateSubject
        idp = next(
            (i for i in realm.idps.values() if i.get("config", {}).get("issuer") == claims["iss"]),
            None,
        )
        if idp is None:
            raise fail("No Identity Provider for provided issuer")
        # getJWTAuthorizationGrantAllowedIdentityProviders: "##"-separated aliases
        # (Constants.CFG_DELIMITER).
        allowed = client["attributes"].get("oauth2.jwt.authorization.grant.idp", "").split("##")
        if idp["alias"] not in allowed:
            raise fail("Identity Provider is not allowed for the client")
        config = idp.get("config", {})
        if (
            idp.get("providerId") != "jwt-authorization-grant"
            or config.get("jwtAuthorizationGrantEnabled") != "true"
        ):
            raise fail("Identity Provider is not configured for JWT Authorization Grant")
        self._check_active(
            realm,
            claims,
            fail,
            skew=int(config.get("jwtAuthorizationGrantAllowedClockSkew", "0")),
            reuse=config.get("jwtAuthorizationGrantAssertionReuseAllowed") == "true",
        )
        pinned = config.get("jwtAuthorizationGrantAssertionSignatureAlg")
        if pinned and header.get("alg") != pinned:
            raise fail("Invalid signature algorithm")
        self._check_audience(claims, [self.issuer(realm.name)], fail)
        key = None
        try:  # the identity provider's keys: its jwksUrl (OIDCIdentityProviderConfig)
            for data in requests.get(config["jwksUrl"], timeout=5).json().get("keys", []):
                if data.get("kid") == header.get("kid"):
                    key = (
                        ECKey.import_key(data)
                        if data.get("kty") == "EC"
                        else RSAKey.import_key(data)
                    )
        except (requests.RequestException, ValueError, KeyError):
            key = None
        if key is None:
            raise fail("Error validating JWT with identity provider")
        self._verify(
            assertion,
            key,
            header.get("alg", ""),
            fail,
            "Error validating JWT with identity provider",
        )
        user = next(
            (
                u
                for u in realm.users.values()
                if any(
                    f["identityProvider"] == idp["alias"] and f["userId"] == claims["sub"]
                    for f in u["federatedIdentities"]
                )
            ),
            None,
        )
        if user is None:
            raise fail("User not found")  # "user must exist in keycloak"
        return self._issue(realm, client, user, form, service_account=False)

    def _issue(
        self,
        realm: Realm,
        client: dict[str, Any],
        user: dict[str, Any],
        form: dict[str, str],
        *,
        service_account: bool,
    ) -> dict[str, Any]:
        """TokenManager's access token: exp, iat, jti, iss, aud (the audience mappers:
        AudienceProtocolMapper ``included.custom.audience``), sub, typ, azp, scope (the
        client's default scopes that have ``include.in.token.scope``), and the claims of
        those scopes' mappers we model (preferred_username from "profile", client_id of a
        service account). The header's typ is ``at+jwt`` when the client has
        ``access.token.header.type.rfc9068`` (Keycloak 26.2+), else ``JWT``."""
        requested = [s for s in form.get("scope", "").split() if s != "openid"]
        scopes = [realm.scopes[s] for s in client["defaultScopeIds"]]
        names = {s["name"] for s in scopes}
        unknown = [s for s in requested if s not in names]
        if unknown:
            # TokenManager.isValidScope → invalid_scope.
            raise oauth_error(400, "invalid_scope", "Invalid scopes: " + " ".join(requested))
        now = int(time.time())
        audiences = [
            m["config"]["included.custom.audience"]
            for m in client["protocolMappers"]
            if m.get("protocolMapper") == "oidc-audience-mapper"
            and m.get("config", {}).get("access.token.claim") == "true"
            and m.get("config", {}).get("included.custom.audience")
        ]
        claims: dict[str, Any] = {
            "exp": now + realm.access_lifespan,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": self.issuer(realm.name),
            "sub": user["id"],
            "typ": "Bearer",
            "azp": client["clientId"],
            "scope": " ".join(
                s["name"] for s in scopes if s["attributes"].get("include.in.token.scope") == "true"
            ),
        }
        if audiences:
            # JsonWebToken serialises a single audience as a string.
            claims["aud"] = audiences[0] if len(audiences) == 1 else audiences
        if "profile" in names:
            claims["preferred_username"] = user["username"]
        if service_account:
            claims["client_id"] = client["clientId"]
        rfc9068 = client["attributes"].get("access.token.header.type.rfc9068") == "true"
        header = {"alg": "RS256", "typ": "at+jwt" if rfc9068 else "JWT", "kid": self.kid(realm.key)}
        token = jws.serialize_compact(header, json.dumps(claims), realm.key, algorithms=["RS256"])
        # AccessTokenResponse.
        return {
            "access_token": token,
            "expires_in": realm.access_lifespan,
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": claims["scope"],
        }

    # --- admin REST API (Keycloak's admin-rest-api docs; services/.../resources/admin) ---

    def _admin_api(
        self, realm: Realm, method: str, path: str, query: dict[str, str], data: Any
    ) -> tuple[int, Any, dict[str, str]]:
        created = lambda kind, new_id: (  # noqa: E731 - Response.created(location): 201, no body
            201,
            None,
            {"Location": f"{self.url}/admin/realms/{realm.name}/{kind}/{new_id}"},
        )
        if path == "/clients" and method == "GET":
            # ClientsResource.getClients: ?clientId= is an exact lookup.
            found = [
                realm.represent(c)
                for c in realm.clients.values()
                if "clientId" not in query or c["clientId"] == query["clientId"]
            ]
            return 200, found, {}
        if path == "/clients" and method == "POST":
            return created("clients", realm.add_client(data))
        match = re.fullmatch(r"/clients/([^/]+)(/.*)?", path)
        if match:
            client = realm.clients.get(match.group(1))
            if client is None:
                raise Refusal(404, {"error": "Could not find client"})  # ClientsResource.getClient
            return self._admin_client(realm, client, method, match.group(2) or "", data)
        if path == "/client-scopes" and method == "GET":
            return 200, list(realm.scopes.values()), {}
        if path == "/client-scopes" and method == "POST":
            if realm.scope_named(data["name"]):
                raise Refusal(409, {"errorMessage": f"Client Scope {data['name']} already exists"})
            return created("client-scopes", realm.add_scope(data))
        if path == "/users" and method == "GET":
            # UsersResource.getUsers: username search, exact when exact=true; first/max.
            name = query.get("username")
            exact = query.get("exact", "false").lower() == "true"
            users = [
                u
                for u in realm.users.values()
                if name is None
                or (u["username"] == name.lower() if exact else name.lower() in u["username"])
            ]
            first, most = int(query.get("first", 0)), int(query.get("max", 100))
            return 200, [self._user_rep(u) for u in users[first : first + most]], {}
        if path == "/users" and method == "POST":
            return created("users", realm.add_user(data))
        match = re.fullmatch(r"/users/([^/]+)(/.*)?", path)
        if match:
            user = realm.users.get(match.group(1))
            if user is None:
                raise Refusal(404, {"error": "User not found"})  # UsersResource.user
            return self._admin_user(realm, user, method, match.group(2) or "", data)
        match = re.fullmatch(r"/identity-provider/instances/([^/]+)", path)
        if match and method == "GET":
            idp = realm.idps.get(match.group(1))
            if idp is None:
                raise Refusal(404, {"error": "Could not find identity provider"})
            return 200, idp, {}
        raise Refusal(404, {"error": "Unable to find matching target resource method"})

    def _admin_client(
        self, realm: Realm, client: dict[str, Any], method: str, rest: str, data: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if rest == "" and method == "GET":
            return 200, realm.represent(client), {}
        if rest == "" and method == "PUT":
            # ClientResource.update → RepresentationToModel.updateClient: only the fields
            # given change; an attribute given as null is removed.
            for name, value in data.items():
                if name == "attributes":
                    for key, attr in value.items():
                        if attr is None:
                            client["attributes"].pop(key, None)
                        else:
                            client["attributes"][key] = attr
                elif name not in ("id", "protocolMappers", "defaultClientScopes"):
                    client[name] = value
            realm.ensure_service_account(client)
            return 204, None, {}
        if rest == "/protocol-mappers/models" and method == "GET":
            return 200, client["protocolMappers"], {}
        if rest == "/protocol-mappers/models" and method == "POST":
            # ProtocolMappersResource.createMapper: 201, 409 on a duplicate name.
            if any(m["name"] == data["name"] for m in client["protocolMappers"]):
                raise Refusal(409, {"errorMessage": "Protocol mapper exists with same name"})
            mapper_id = str(uuid.uuid4())
            client["protocolMappers"].append({**data, "id": mapper_id})
            return (
                201,
                None,
                {
                    "Location": f"{self.url}/admin/realms/{realm.name}/clients/"
                    f"{client['id']}/protocol-mappers/models/{mapper_id}"
                },
            )
        match = re.fullmatch(r"/protocol-mappers/models/([^/]+)", rest)
        if match and method == "PUT":
            for index, mapper in enumerate(client["protocolMappers"]):
                if mapper["id"] == match.group(1):
                    client["protocolMappers"][index] = {**data, "id": mapper["id"]}
                    return 204, None, {}
            raise Refusal(404, {"error": "Model not found"})
        if rest == "/default-client-scopes" and method == "GET":
            return (
                200,
                [{"id": s, "name": realm.scopes[s]["name"]} for s in client["defaultScopeIds"]],
                {},
            )
        match = re.fullmatch(r"/default-client-scopes/([^/]+)", rest)
        if match and method == "PUT":
            if match.group(1) not in realm.scopes:
                raise Refusal(404, {"error": "Client scope not found"})
            if match.group(1) not in client["defaultScopeIds"]:
                client["defaultScopeIds"].append(match.group(1))
            return 204, None, {}
        raise Refusal(404, {"error": "Unable to find matching target resource method"})

    @staticmethod
    def _user_rep(user: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in user.items() if k != "federatedIdentities"}

    def _admin_user(
        self, realm: Realm, user: dict[str, Any], method: str, rest: str, data: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if rest == "" and method == "GET":
            return 200, self._user_rep(user), {}
        if rest == "" and method == "PUT":
            user.update({k: v for k, v in data.items() if k in ("enabled",)})
            return 204, None, {}
        if rest == "" and method == "DELETE":
            del realm.users[user["id"]]
            return 204, None, {}
        if rest == "/federated-identity" and method == "GET":
            return 200, user["federatedIdentities"], {}
        match = re.fullmatch(r"/federated-identity/([^/]+)", rest)
        if match and method == "POST":
            # UserResource.addFederatedIdentity: 409 when already linked to that provider.
            alias = match.group(1)
            if alias not in realm.idps:
                raise Refusal(400, {"errorMessage": "Could not find identity provider"})
            if any(f["identityProvider"] == alias for f in user["federatedIdentities"]):
                raise Refusal(409, {"errorMessage": "User is already linked with provider"})
            user["federatedIdentities"].append(
                {"identityProvider": alias, "userId": data["userId"], "userName": data["userName"]}
            )
            return 204, None, {}
        raise Refusal(404, {"error": "Unable to find matching target resource method"})
