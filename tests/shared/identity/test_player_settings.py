"""Player settings: origins, profile API URLs and the decoded document's rules."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from shared.identity import (
    PlayerSettings,
    PlayerSettingsInvalid,
    SsoSettings,
    WebhookSettings,
    check_origin,
    check_profile_api,
    validate_player_settings,
)


@pytest.mark.parametrize(
    "origin",
    [
        "https://shop.example",
        "http://127.0.0.1:8080",
        "http://localhost:3000",
        "https://shop.example:8443",
        "http://[::1]:8080",
    ],
)
def test_exact_origins_are_accepted(origin: str) -> None:
    """An exact https origin, or http on loopback, is returned unchanged."""
    assert check_origin(origin) == origin


@pytest.mark.parametrize(
    "origin",
    [
        "https://*.shop.example",
        "*",
        "https://shop.example/path",
        "https://shop.example/",
        "https://Shop.Example",
        "https://shop.example:443",
        "https://shop.example:0443",
        "https://shop.example:08080",
        "https://shop.example:0",
        "http://127.0.0.1:80",
        "http://shop.example",
        "https://user@shop.example",
        "https://user:pw@shop.example",
        "https://shop.example?x=1",
        "https://shop.example#frag",
        "ftp://shop.example",
        "https://shop.example:",
        "https://shop.example:99999",
        "shop.example",
        "",
    ],
)
def test_inexact_origins_are_refused(origin: str) -> None:
    """Anything but scheme://host[:port] as a browser sends it raises PlayerSettingsInvalid."""
    with pytest.raises(PlayerSettingsInvalid) as info:
        check_origin(origin)
    assert info.value.code == "PLAYER_SETTINGS_INVALID"


@pytest.mark.parametrize(
    "url", ["https://shop.example/api/me", "http://127.0.0.1:9000/me", "http://localhost/me"]
)
def test_profile_api_https_or_loopback_http_is_accepted(url: str) -> None:
    """An https URL, or http on loopback, is accepted as the profile API."""
    assert check_profile_api(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example/me",
        "https://u:p@shop.example/me",
        "https://shop.example/me#x",
        "ftp://shop.example/me",
        "https://shop.example:bad/me",
        "/me",
    ],
)
def test_profile_api_unsafe_urls_are_refused(url: str) -> None:
    """A profile API URL that would leak or mangle access tokens is refused."""
    with pytest.raises(PlayerSettingsInvalid):
        check_profile_api(url)


def test_validate_refuses_duplicate_origins() -> None:
    """The same parent origin listed twice is refused."""
    settings = PlayerSettings(parent_origins=("https://a.example", "https://a.example"))
    with pytest.raises(PlayerSettingsInvalid, match="twice"):
        validate_player_settings(settings)


def test_validate_checks_each_origin_and_the_profile_api() -> None:
    """A bad origin or profile API in otherwise valid settings is refused; good ones pass."""
    good = PlayerSettings(
        parent_origins=("https://a.example", "https://b.example"),
        profile_api="https://a.example/me",
    )
    assert validate_player_settings(good) is good
    with pytest.raises(PlayerSettingsInvalid):
        validate_player_settings(PlayerSettings(parent_origins=("https://a.example/",)))
    with pytest.raises(PlayerSettingsInvalid):
        validate_player_settings(PlayerSettings(profile_api="http://a.example/me"))


def test_decoding_a_good_document() -> None:
    """A well-formed document decodes with its prefill mapping and campaigns."""
    settings = msgspec.convert(
        {
            "parent_origins": ["https://a.example"],
            "prefill": {"profile.email": "email", "sub": "participant", "custom.a.b": "ab"},
            "campaigns": {"1001": {"title": "Spring"}},
        },
        PlayerSettings,
    )
    assert settings.prefill["profile.email"] == "email"
    assert settings.campaigns["1001"].title == "Spring"
    assert settings.identification == "secure_token"


@pytest.mark.parametrize(
    "document",
    [
        {"prefill": {"profile.email": "First-Name"}},
        {"prefill": {"profile.email": "1name"}},
        {"prefill": {"profile.email": "name\n"}},
        {"prefill": {"email": "email"}},
        {"prefill": {"profile": "email"}},
        {"prefill": {"other.email": "email"}},
        {"prefill": {"profile.a.b.c.d.e": "email"}},
        {"campaigns": {"bad id": {"title": "x"}}},
        {"campaigns": {"-1001": {"title": "x"}}},
        {"campaigns": {"x" * 65: {"title": "x"}}},
        {"campaigns": {"1001": {"title": ""}}},
        {"campaigns": {"1001": {"title": "x", "extra": 1}}},
        {"identification": "password"},
        {"unknown_field": True},
    ],
)
def test_decoding_refuses_malformed_documents(document: dict[str, Any]) -> None:
    """A bad field name, claim path, campaign id or unknown member fails to decode."""
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(document, PlayerSettings)


def _sso(**fields: object) -> SsoSettings:
    return msgspec.convert({"client_id": "player", **fields}, SsoSettings)


@pytest.mark.parametrize(
    ("sso", "reason"),
    [
        ({}, r"sso needs an issuer \(discovery\) or its endpoints"),
        ({"issuer": "http://idp.example"}, "sso.issuer must be https"),
        ({"issuer": "https://u:p@idp.example"}, "no user info"),
        (
            {"authorization_endpoint": "https://i/a", "token_endpoint": "https://i/t"},
            "userinfo_endpoint missing",
        ),
        (
            {
                "authorization_endpoint": "https://i/a",
                "token_endpoint": "https://i/t",
                "profile_source": "id_token",
            },
            "jwks_uri missing",
        ),
        (
            {"issuer": "https://i", "profile_source": "id_token", "scope": "profile"},
            r"needs the scope 'openid'",
        ),
    ],
    ids=["nothing", "http", "user-info", "no-userinfo", "no-jwks", "id-token-no-openid"],
)
def test_sso_settings_are_checked_on_write(sso: dict[str, object], reason: str) -> None:
    settings = PlayerSettings(sso=_sso(**sso))
    with pytest.raises(PlayerSettingsInvalid, match=reason):
        validate_player_settings(settings)


def test_sso_on_loopback_http_and_by_endpoints_is_accepted() -> None:
    sso = _sso(
        authorization_endpoint="http://127.0.0.1:9/auth",
        token_endpoint="http://127.0.0.1:9/token",
        userinfo_endpoint="http://127.0.0.1:9/me",
    )
    settings = PlayerSettings(identification="sso", sso=sso)
    assert validate_player_settings(settings) is settings


@pytest.mark.parametrize(
    "value",
    [{"client_id": ""}, {"client_id": "a\nb"}, {"scope": "openid  email"}, {"scope": 'a"b'}],
    ids=["empty-client", "newline-client", "double-space", "quote"],
)
def test_sso_values_are_bounded_by_their_types(value: dict[str, str]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"client_id": "player", **value}, SsoSettings)


def test_identification_sso_needs_its_settings() -> None:
    with pytest.raises(PlayerSettingsInvalid, match="needs the sso settings"):
        validate_player_settings(PlayerSettings(identification="sso"))


@pytest.mark.parametrize(
    ("webhook", "reason"),
    [
        (WebhookSettings(url="http://hooks.example"), "webhook.url must be https"),
        (WebhookSettings(url="https://h", auth_header="Content-Type"), "reserved"),
        (WebhookSettings(url="https://h", auth_header="webhook-id"), "reserved"),
    ],
    ids=["http", "content-type", "standard-webhooks-header"],
)
def test_webhook_settings_are_checked_on_write(webhook: WebhookSettings, reason: str) -> None:
    with pytest.raises(PlayerSettingsInvalid, match=reason):
        validate_player_settings(PlayerSettings(webhook=webhook))
