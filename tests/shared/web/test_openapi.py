"""The OpenAPI helpers: flat Structs inlined (one schema, or ``oneOf``), headers added per
status, body-size texts from the limits, and every app's document tagging the probes."""

from __future__ import annotations

import msgspec
import pytest
from litestar.openapi.spec import OpenAPIResponse, Tag

from shared.web.body_limits import kib, too_large
from shared.web.headers import RETRY_AFTER_HEADER
from shared.web.openapi import OPERATIONS_TAG, DocumentedOperation, StructSchema, openapi_config


class First(msgspec.Struct):
    """A first
    shape."""

    a: int


class Second(msgspec.Struct):
    """A second shape."""

    b: str


class Nesting(msgspec.Struct):
    """Holds another Struct."""

    inner: First


def test_one_struct_is_its_schema() -> None:
    """One Struct is inlined as its own schema, its docstring one paragraph."""
    schema = StructSchema(First).to_schema()
    assert schema["properties"] == {"a": {"type": "integer"}}
    assert schema["description"] == "A first shape."


def test_several_structs_are_one_of() -> None:
    """Several Structs are a ``oneOf`` of their schemas, in order."""
    schema = StructSchema(First, Second).to_schema()
    assert [s["title"] for s in schema["oneOf"]] == ["First", "Second"]


def test_nested_structs_are_refused() -> None:
    """A Struct holding another would render a dangling ``$ref``: refused."""
    with pytest.raises(TypeError, match="flat"):
        StructSchema(Nesting).to_schema()


def test_retry_after_is_documented_on_429_and_503() -> None:
    """The base operation adds Retry-After to 429 and 503 answers only."""
    responses = {s: OpenAPIResponse(description=s) for s in ("200", "400", "429", "503")}
    DocumentedOperation(responses=responses)  # type: ignore[arg-type]
    assert [s for s, r in responses.items() if r.headers] == ["429", "503"]
    assert responses["503"].headers == {"Retry-After": RETRY_AFTER_HEADER}


def test_config_tags_the_probes_last() -> None:
    """An app's own tags come first, then the probes' tag."""
    config = openapi_config("T", "D", [Tag(name="Mine")])
    assert [t.name for t in config.tags or []] == ["Mine", OPERATIONS_TAG.name]
    assert config.path == "/schema"


def test_body_size_texts() -> None:
    """Sizes read in KiB when whole, the 413 detail names the limit when there is one."""
    assert kib(64 * 1024) == "64 KiB"
    assert kib(1000) == "1000 bytes"
    assert too_large(32 * 1024) == "the request body is too large (limit 32 KiB)"
    assert too_large() == "the request body is too large"
