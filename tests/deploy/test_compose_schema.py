"""compose.yaml validates against the Compose Specification's JSON schema (check-jsonschema's
maintained copy, available offline), and the check is strict."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jsonschema

from tests.support.compose import load_compose


def _compose_schema() -> dict[str, Any]:
    # compose-spec/compose-spec's schema/compose-spec.json (Apache-2.0), as check-jsonschema
    # vendors it (`--builtin-schema vendor.compose-spec`) and refreshes it each release:
    # a maintained copy, installed with the dev extra, available offline.
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath("compose-spec.json").read_text("utf-8"))
    return schema


def _schema_errors(document: Mapping[str, Any]) -> list[str]:
    schema = _compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification() -> None:
    """compose.yaml validates against the Compose Specification's JSON schema."""
    assert _schema_errors(load_compose()) == []


def test_schema_check_catches_a_misspelt_key() -> None:
    """A misspelt service key fails the schema check (the schema is strict, and loaded)."""
    document = load_compose()
    document["services"]["openbao"]["healthchek"] = document["services"]["openbao"].pop(
        "healthcheck"
    )
    assert any("healthchek" in error for error in _schema_errors(document))
