"""Settings built from the environment: defaults, parsing and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import ConfigurationError, Settings


def test_defaults_from_an_empty_environment() -> None:
    """With nothing set, settings take DESIGN §9's defaults and use no credentials."""
    s = Settings.from_env(environ={})
    assert s.vault_addr == "http://127.0.0.1:8200"
    assert s.vault_token is None
    assert s.vault_role_id is None
    assert s.vault_secret_id is None
    assert s.kv_mount == "secret"
    assert s.transit_mount == "transit"
    assert s.crypto_audience == "crypto-api"
    assert s.vault_timeout == 5.0
    assert s.authz_issuer is None
    assert s.authz_jwks_url is None
    assert s.redis_url is None
    assert s.uses_approle is False


def test_every_documented_variable_is_read() -> None:
    """Each environment name of DESIGN §9 (and the Vault client ones) lands in its field."""
    s = Settings.from_env(
        environ={
            "VAULT_ADDR": "https://vault.example:8200",
            "VAULT_ROLE_ID": "role",
            "VAULT_SECRET_ID": "secret-id",
            "VAULT_KV_MOUNT": "kv-2",
            "VAULT_TRANSIT_MOUNT": "transit_acme",
            "VAULT_CLIENT_TIMEOUT": "2.5",
            "VAULT_CACERT": "/etc/ca.pem",
            "AUTHZ_ISSUER": "https://authz.example",
            "CRYPTO_AUDIENCE": "crypto",
            "AUTHZ_JWKS_URL": "https://authz.example/.well-known/jwks.json",
            "REDIS_URL": "redis://redis:6379/0",
        }
    )
    assert s.vault_addr == "https://vault.example:8200"
    assert (s.vault_role_id, s.vault_secret_id) == ("role", "secret-id")
    assert s.uses_approle is True
    assert (s.kv_mount, s.transit_mount) == ("kv-2", "transit_acme")
    assert s.vault_timeout == 2.5
    assert s.vault_cacert == "/etc/ca.pem"
    assert s.authz_issuer == "https://authz.example"
    assert s.crypto_audience == "crypto"
    assert s.authz_jwks_url == "https://authz.example/.well-known/jwks.json"
    assert s.redis_url == "redis://redis:6379/0"


def test_explicit_environ_ignores_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """When ``environ`` is given, ``os.environ`` is not consulted."""
    monkeypatch.setenv("VAULT_ADDR", "not a url")
    monkeypatch.setenv("VAULT_TOKEN", "from-process")
    s = Settings.from_env(environ={"VAULT_TOKEN": "from-mapping"})
    assert s.vault_token == "from-mapping"
    assert s.vault_addr == "http://127.0.0.1:8200"


def test_overrides_win_over_the_environment() -> None:
    """Keyword overrides replace what the environment says."""
    s = Settings.from_env(environ={"VAULT_CLIENT_TIMEOUT": "9"}, vault_timeout=1.5, cache_ttl=0.0)
    assert s.vault_timeout == 1.5
    assert s.cache_ttl == 0.0


@pytest.mark.parametrize(
    "value",
    ["not-a-url", "ftp://vault:8200", "http://", "127.0.0.1:8200", "//vault:8200"],
    ids=["word", "ftp", "no-host", "no-scheme", "scheme-relative"],
)
def test_vault_addr_must_be_an_http_url(value: str) -> None:
    """A VAULT_ADDR that is not an http(s) URL with a host is refused, naming VAULT_ADDR."""
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(environ={"VAULT_ADDR": value})
    assert caught.value.code == "CONFIGURATION_INVALID"
    assert "VAULT_ADDR" in caught.value.detail


@pytest.mark.parametrize(
    "environ",
    [{"VAULT_ROLE_ID": "role"}, {"VAULT_SECRET_ID": "secret-id"}],
    ids=["role-without-secret", "secret-without-role"],
)
def test_approle_needs_both_halves(environ: dict[str, str]) -> None:
    """VAULT_ROLE_ID and VAULT_SECRET_ID are only accepted together."""
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(environ=environ)
    assert caught.value.code == "CONFIGURATION_INVALID"
    assert "VAULT_ROLE_ID" in caught.value.detail
    assert "VAULT_SECRET_ID" in caught.value.detail


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VAULT_KV_MOUNT", "secret/data"),
        ("VAULT_KV_MOUNT", "../sys"),
        ("VAULT_KV_MOUNT", "-secret"),
        ("VAULT_TRANSIT_MOUNT", "tran sit"),
        ("VAULT_TRANSIT_MOUNT", "t" * 65),
        ("VAULT_KV_MOUNT", "secret\n"),
    ],
    ids=[
        "kv-slash",
        "kv-traversal",
        "kv-leading-dash",
        "transit-space",
        "transit-too-long",
        "kv-trailing-newline",
    ],
)
def test_bad_mount_names_are_refused(variable: str, value: str) -> None:
    """A mount name that is not a plain path segment is refused, naming its variable."""
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(environ={variable: value})
    assert caught.value.code == "CONFIGURATION_INVALID"
    assert variable in caught.value.detail


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0.25", 0.25), ("300", 300.0)],
    ids=["integer", "fraction", "upper-bound"],
)
def test_client_timeout_is_parsed_as_seconds(value: str, expected: float) -> None:
    """VAULT_CLIENT_TIMEOUT is a number of seconds given as text."""
    assert Settings.from_env(environ={"VAULT_CLIENT_TIMEOUT": value}).vault_timeout == expected


@pytest.mark.parametrize(
    "value",
    ["soon", "0", "-1", "301", "nan", "inf"],
    ids=["word", "zero", "negative", "too-long", "nan", "infinite"],
)
def test_bad_client_timeout_is_refused(value: str) -> None:
    """A VAULT_CLIENT_TIMEOUT that is not a positive number of seconds up to 300 is refused."""
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(environ={"VAULT_CLIENT_TIMEOUT": value})
    assert caught.value.code == "CONFIGURATION_INVALID"
    assert "VAULT_CLIENT_TIMEOUT" in caught.value.detail


@pytest.mark.parametrize("blank", ["", "   "], ids=["empty", "whitespace"])
def test_empty_values_count_as_unset(blank: str) -> None:
    """Empty or blank variables fall back to defaults instead of failing validation."""
    s = Settings.from_env(
        environ={
            "VAULT_ADDR": blank,
            "VAULT_TOKEN": blank,
            "VAULT_ROLE_ID": blank,
            "VAULT_KV_MOUNT": blank,
            "VAULT_CLIENT_TIMEOUT": blank,
            "AUTHZ_ISSUER": blank,
        }
    )
    assert s == Settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("AUTHZ_ISSUER", "authz.example"), ("AUTHZ_JWKS_URL", "file:///etc/jwks.json")],
    ids=["issuer", "jwks-url"],
)
def test_authz_urls_must_be_http_urls(variable: str, value: str) -> None:
    """AUTHZ_ISSUER and AUTHZ_JWKS_URL must be http(s) URLs; the error names the variable."""
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(environ={variable: value})
    assert variable in caught.value.detail


def test_repr_hides_credentials() -> None:
    """The repr (what ends up in logs) never shows the Vault token, secret id or Redis URL."""
    s = Settings(
        vault_token="hvs.root-token-value",
        vault_role_id="role",
        vault_secret_id="approle-secret-value",
        redis_url="redis://:redis-password@redis:6379/0",
    )
    rich = " ".join(f"{name}={value!r}" for name, value in s.__rich_repr__())
    for text in (repr(s), rich):
        assert "hvs.root-token-value" not in text
        assert "approle-secret-value" not in text
        assert "redis-password" not in text
        assert "vault_role_id='role'" in text


def test_rate_limit_defaults() -> None:
    """Without the variables, each account may make 50 requests a second, in bursts of 100."""
    s = Settings.from_env(environ={})
    assert s.rate_limit_per_second == 50.0
    assert s.rate_limit_burst == 100


@pytest.mark.parametrize(
    ("rate", "burst", "expected"),
    [("12.5", "20", (12.5, 20)), ("0", "1", (0.0, 1)), ("1e3", "1000", (1000.0, 1000))],
    ids=["fraction", "disabled", "exponent"],
)
def test_rate_limit_variables_are_read(rate: str, burst: str, expected: tuple[float, int]) -> None:
    """AUTHZ_RATE_LIMIT_PER_SECOND and AUTHZ_RATE_LIMIT_BURST land in their fields."""
    s = Settings.from_env(
        environ={"AUTHZ_RATE_LIMIT_PER_SECOND": rate, "AUTHZ_RATE_LIMIT_BURST": burst}
    )
    assert (s.rate_limit_per_second, s.rate_limit_burst) == expected


def test_the_crypto_batch_budget_is_read_and_defaults_above_the_single_calls() -> None:
    """CRYPTO_BATCH_RATE_LIMIT_* land in their fields; by default the batch budget is ten
    times the single calls' (5,000/s, burst 10,000, against 500 and 1,000)."""
    s = Settings.from_env(
        environ={
            "CRYPTO_BATCH_RATE_LIMIT_PER_SECOND": "250",
            "CRYPTO_BATCH_RATE_LIMIT_BURST": "300",
        }
    )
    assert (s.crypto_batch_rate_per_second, s.crypto_batch_rate_burst) == (250.0, 300)
    d = Settings.from_env(environ={})
    assert (d.crypto_batch_rate_per_second, d.crypto_batch_rate_burst) == (5000.0, 10_000)
    assert (d.crypto_rate_per_second, d.crypto_rate_burst) == (500.0, 1000)


def test_the_player_budget_is_read_and_defaults_to_the_crypto_single_calls() -> None:
    """PLAYER_RATE_LIMIT_* land in their fields (500/s, burst 1,000 by default); an
    infinite rate is refused like the others' (0 disables)."""
    s = Settings.from_env(
        environ={"PLAYER_RATE_LIMIT_PER_SECOND": "0", "PLAYER_RATE_LIMIT_BURST": "7"}
    )
    assert (s.player_rate_per_second, s.player_rate_burst) == (0.0, 7)
    d = Settings.from_env(environ={})
    assert (d.player_rate_per_second, d.player_rate_burst) == (500.0, 1000)
    with pytest.raises(ConfigurationError, match="PLAYER_RATE_LIMIT_PER_SECOND"):
        Settings.from_env(environ={"PLAYER_RATE_LIMIT_PER_SECOND": "inf"})
    with pytest.raises(ConfigurationError, match="PLAYER_RATE_LIMIT_BURST"):
        Settings.from_env(environ={"PLAYER_RATE_LIMIT_BURST": "0"})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AUTHZ_RATE_LIMIT_PER_SECOND", "-1"),
        ("AUTHZ_RATE_LIMIT_PER_SECOND", "fast"),
        ("AUTHZ_RATE_LIMIT_PER_SECOND", "nan"),
        ("AUTHZ_RATE_LIMIT_PER_SECOND", "inf"),
        ("AUTHZ_RATE_LIMIT_BURST", "0"),
        ("AUTHZ_RATE_LIMIT_BURST", "-5"),
        ("AUTHZ_RATE_LIMIT_BURST", "1.5"),
        ("AUTHZ_RATE_LIMIT_BURST", "many"),
        ("AUTHZ_JWT_BEARER_RATE_LIMIT_PER_SECOND", "inf"),
        ("AUTHZ_JWT_BEARER_RATE_LIMIT_BURST", "0"),
        ("AUTHZ_ASSERTION_RATE_LIMIT_PER_SECOND", "-0.05"),
        ("AUTHZ_ASSERTION_RATE_LIMIT_PER_SECOND", "inf"),
        ("AUTHZ_ASSERTION_RATE_LIMIT_BURST", "0"),
        ("CRYPTO_BATCH_RATE_LIMIT_PER_SECOND", "inf"),
        ("CRYPTO_BATCH_RATE_LIMIT_PER_SECOND", "-1"),
        ("CRYPTO_BATCH_RATE_LIMIT_BURST", "0"),
    ],
    ids=[
        "rate-negative",
        "rate-word",
        "rate-nan",
        "rate-infinite",
        "burst-zero",
        "burst-negative",
        "burst-fraction",
        "burst-word",
        "jwt-bearer-rate-infinite",
        "jwt-bearer-burst-zero",
        "assertion-rate-negative",
        "assertion-rate-infinite",
        "assertion-burst-zero",
        "batch-rate-infinite",
        "batch-rate-negative",
        "batch-burst-zero",
    ],
)
def test_bad_rate_limit_values_are_refused(variable: str, value: str) -> None:
    """A negative, non-numeric or infinite rate, or a burst below one, is refused by name."""
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(environ={variable: value})
    assert caught.value.code == "CONFIGURATION_INVALID"
    assert variable in caught.value.detail


@pytest.mark.parametrize("name", ["VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID"])
def test_credentials_may_come_from_a_file(name: str, tmp_path: Path) -> None:
    """NAME_FILE names a file holding the value (the container convention); the trailing
    newline is not part of it."""
    secret = tmp_path / "value"
    secret.write_text("s3cr3t-value\n")
    environ = {f"{name}_FILE": str(secret)}
    if name == "VAULT_ROLE_ID":
        environ["VAULT_SECRET_ID"] = "x"
    if name == "VAULT_SECRET_ID":
        environ["VAULT_ROLE_ID"] = "x"
    settings = Settings.from_env(environ)
    field = {"VAULT_TOKEN": "vault_token", "VAULT_ROLE_ID": "vault_role_id"}.get(
        name, "vault_secret_id"
    )
    assert getattr(settings, field) == "s3cr3t-value"


def test_credential_file_problems_name_the_variable(tmp_path: Path) -> None:
    """A missing or empty file, or both forms at once, is a ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match=r"VAULT_TOKEN_FILE: cannot read .*missing"):
        Settings.from_env({"VAULT_TOKEN_FILE": str(tmp_path / "missing")})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigurationError, match=r"VAULT_SECRET_ID_FILE: .* is empty"):
        Settings.from_env({"VAULT_ROLE_ID": "r", "VAULT_SECRET_ID_FILE": str(empty)})
    with pytest.raises(ConfigurationError, match="set VAULT_TOKEN or VAULT_TOKEN_FILE, not both"):
        Settings.from_env({"VAULT_TOKEN": "t", "VAULT_TOKEN_FILE": str(empty)})


def test_jwt_bearer_budgets_and_single_instance_from_env() -> None:
    """The jwt-bearer and per-assertion budgets and AUTHZ_SINGLE_INSTANCE are read from the
    environment (defaults: 50/s burst 100, 0.05/s burst 5, off); a non-boolean is refused
    by name."""
    assert Settings.from_env(environ={}).authz_single_instance is False
    settings = Settings.from_env(
        environ={
            "AUTHZ_JWT_BEARER_RATE_LIMIT_PER_SECOND": "7",
            "AUTHZ_JWT_BEARER_RATE_LIMIT_BURST": "8",
            "AUTHZ_ASSERTION_RATE_LIMIT_PER_SECOND": "0.5",
            "AUTHZ_ASSERTION_RATE_LIMIT_BURST": "2",
            "AUTHZ_SINGLE_INSTANCE": "1",
        }
    )
    assert (settings.jwt_bearer_rate_per_second, settings.jwt_bearer_rate_burst) == (7.0, 8)
    assert (settings.assertion_rate_per_second, settings.assertion_rate_burst) == (0.5, 2)
    assert settings.authz_single_instance is True
    defaults = Settings()
    assert (defaults.jwt_bearer_rate_per_second, defaults.jwt_bearer_rate_burst) == (50.0, 100)
    assert (defaults.assertion_rate_per_second, defaults.assertion_rate_burst) == (0.05, 5)
    with pytest.raises(ConfigurationError, match="AUTHZ_SINGLE_INSTANCE"):
        Settings.from_env(environ={"AUTHZ_SINGLE_INSTANCE": "maybe"})


def test_jwks_loopback_http_is_off_unless_set() -> None:
    """JWKS_ALLOW_LOOPBACK_HTTP is off by default; ``1`` or ``true`` turns it on; a value
    that is not a boolean is refused, naming the variable."""
    assert Settings.from_env({}).jwks_allow_loopback_http is False
    assert Settings.from_env({"JWKS_ALLOW_LOOPBACK_HTTP": "1"}).jwks_allow_loopback_http is True
    assert Settings.from_env({"JWKS_ALLOW_LOOPBACK_HTTP": "true"}).jwks_allow_loopback_http
    with pytest.raises(ConfigurationError, match="JWKS_ALLOW_LOOPBACK_HTTP"):
        Settings.from_env({"JWKS_ALLOW_LOOPBACK_HTTP": "yes"})


def test_verify_deadline_defaults_to_the_vault_timeout_plus_a_second() -> None:
    """VERIFY_DEADLINE_SECONDS bounds one verification's waits on Vault; unset, it is the
    Vault client timeout + 1 s; a value that is not a positive number names the variable."""
    assert Settings.from_env({}).verification_deadline == 6.0
    assert Settings.from_env({"VAULT_CLIENT_TIMEOUT": "2"}).verification_deadline == 3.0
    assert Settings.from_env({"VERIFY_DEADLINE_SECONDS": "1.5"}).verification_deadline == 1.5
    for bad in ("0", "-1", "soon", "601"):
        with pytest.raises(ConfigurationError, match="VERIFY_DEADLINE_SECONDS"):
            Settings.from_env({"VERIFY_DEADLINE_SECONDS": bad})
