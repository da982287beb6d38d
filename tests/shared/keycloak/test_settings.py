"""The Keycloak settings: names, files for secrets, what must go together, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import ConfigurationError, Settings
from shared.keycloak import KeycloakRealm, admin_credentials

BASE = {"KEYCLOAK_URL": "https://kc.example/auth", "KEYCLOAK_REALM": "secure-token"}


def test_environment_names(tmp_path: Path) -> None:
    """Every setting has its variable; the admin secret may come from a *_FILE; the realm's
    URLs follow from KEYCLOAK_URL, or KEYCLOAK_ISSUER for the public hostname."""
    (tmp_path / "secret").write_text("s3cret\n")
    settings = Settings.from_env(
        {
            **BASE,
            "AUTHZ_BACKEND": "keycloak",
            "CRYPTO_TRUSTED_ISSUERS": "keycloak, builtin",
            "KEYCLOAK_ISSUER": "https://login.example/realms/secure-token",
            "KEYCLOAK_BROKER_CLIENT_ID": "broker",
            "KEYCLOAK_IDP_ALIAS": "authz",
            "KEYCLOAK_TIMEOUT": "2.5",
            "KEYCLOAK_ADMIN_REALM": "secure-token",
            "KEYCLOAK_ADMIN_CLIENT_ID": "tokenctl",
            "KEYCLOAK_ADMIN_CLIENT_SECRET_FILE": str(tmp_path / "secret"),
        }
    )
    assert settings.authz_backend == "keycloak"
    assert settings.trusted_issuers == ("keycloak", "builtin")
    realm = KeycloakRealm.from_settings(settings)
    assert realm.server_url == "https://kc.example/auth/"
    assert realm.certs_url == (
        "https://kc.example/auth/realms/secure-token/protocol/openid-connect/certs"
    )
    assert realm.token_endpoint == (
        "https://login.example/realms/secure-token/protocol/openid-connect/token"
    )
    assert realm.assertion_audiences == {realm.issuer, realm.token_endpoint}
    assert (realm.broker_client_id, realm.idp_alias, realm.timeout) == ("broker", "authz", 2.5)
    credentials = admin_credentials(settings)
    assert credentials is not None
    assert (credentials.realm, credentials.client_id) == ("secure-token", "tokenctl")
    assert credentials.client_secret == "s3cret"
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in repr(credentials)


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        ({"AUTHZ_BACKEND": "keycloak"}, "KEYCLOAK_URL and KEYCLOAK_REALM"),
        ({"CRYPTO_TRUSTED_ISSUERS": "keycloak"}, "KEYCLOAK_URL and KEYCLOAK_REALM"),
        ({"AUTHZ_BACKEND": "okta"}, "AUTHZ_BACKEND"),
        ({"CRYPTO_TRUSTED_ISSUERS": "builtin,okta"}, "CRYPTO_TRUSTED_ISSUERS"),
        ({"CRYPTO_TRUSTED_ISSUERS": " , "}, "CRYPTO_TRUSTED_ISSUERS"),
        ({**BASE, "KEYCLOAK_URL": "kc.example"}, "KEYCLOAK_URL"),
        ({**BASE, "KEYCLOAK_ADMIN_USERNAME": "admin"}, "KEYCLOAK_ADMIN_PASSWORD"),
        ({**BASE, "KEYCLOAK_ADMIN_CLIENT_SECRET": "x"}, "KEYCLOAK_ADMIN_CLIENT_ID"),
    ],
    ids=[
        "backend-without-realm",
        "trust-without-realm",
        "unknown-backend",
        "unknown-issuer",
        "no-issuer",
        "bad-url",
        "user-without-password",
        "secret-without-client",
    ],
)
def test_what_is_refused(environ: dict[str, str], said: str) -> None:
    """Incomplete or unknown Keycloak settings stop the service at start, naming the
    variable."""
    with pytest.raises(ConfigurationError, match=said):
        Settings.from_env(environ)


def test_realm_names_stay_in_their_path_segment() -> None:
    """A realm name that could escape its URL segment is refused."""
    settings = Settings.from_env({**BASE, "KEYCLOAK_REALM": "../master"})
    with pytest.raises(ConfigurationError, match="KEYCLOAK_REALM"):
        KeycloakRealm.from_settings(settings)
