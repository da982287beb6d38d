"""OpenAPI helpers both apps share: what Litestar cannot infer from our handlers.

The handlers read raw bodies (for precise error codes), so Litestar documents no request
body; and errors come from each app's error table, not from exceptions Litestar knows about.
So each route names its responses (``ResponseSpec``: the Structs land in
``components/schemas``), and a :class:`DocumentedOperation` adds what ``ResponseSpec``
cannot carry: the request body and the response headers.

Nothing in the document may depend on settings: the checked-in ``openapi/*.json`` are
what every deployment serves. Only the docs pages do (``DOCS_ASSETS``: where their scripts
come from, :mod:`shared.web.docs_pages`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import msgspec
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIHeader,
    OpenAPIResponse,
    Operation,
    RequestBody,
    Schema,
    Tag,
)

from shared.web.docs_assets import SCALAR, DocsAssets
from shared.web.docs_pages import DocsScalarPlugin, DocsSwaggerPlugin
from shared.web.headers import RETRY_AFTER_HEADER

__all__ = [
    "OPERATIONS_TAG",
    "PROBLEM_JSON",
    "SCALAR_VERSION",
    "DocumentedOperation",
    "ProblemExample",
    "StructSchema",
    "ok",
    "openapi_config",
    "problem",
]

#: Pinned (:data:`shared.web.docs_assets.SCALAR`): the docs page runs it on our origin.
SCALAR_VERSION: Final = SCALAR.version
#: RFC 9457's media type, of the problems the Crypto API and the player answer.
PROBLEM_JSON: Final = "application/problem+json"
#: A problem's example: (summary, status, title, code, detail).
ProblemExample = tuple[str, int, str, str, str]
#: The tag of the probes (``shared.web.health``), which every app has.
OPERATIONS_TAG: Final = Tag(
    name="Operations", description="Probes for load balancers and orchestrators."
)


class StructSchema(Schema):
    """The JSON Schema msgspec renders for flat Structs (``oneOf`` when several).

    For request bodies: Litestar documents one only for a ``data`` parameter, and ours read
    the raw body. OpenAPI 3.1 schemas are JSON Schema 2020-12, which msgspec emits.
    """

    def __init__(self, *structs: type[msgspec.Struct]) -> None:
        super().__init__()
        self.structs = structs

    def to_schema(self) -> dict[str, Any]:
        """The schema, inlined (``$defs`` references would dangle in an OpenAPI document).

        Raises:
            TypeError: a Struct nests another (it would be a ``$ref``).
        """
        _, components = msgspec.json.schema_components(self.structs)
        if len(components) != len(self.structs):
            raise TypeError("only flat Structs can be inlined (nested ones would be $refs)")
        schemas: list[dict[str, Any]] = []
        for struct in self.structs:
            schema = components[struct.__name__]
            # Docstrings wrap lines; a description is one paragraph.
            schema["description"] = " ".join(schema.get("description", "").split())
            schemas.append(schema)
        return schemas[0] if len(schemas) == 1 else {"oneOf": schemas}


@dataclass
class DocumentedOperation(Operation):
    """An operation completed with what ``ResponseSpec`` cannot carry: a request body
    (``body``) and response headers (:meth:`headers_for`)."""

    body: ClassVar[RequestBody | None] = None

    def __post_init__(self) -> None:
        if self.body is not None:
            self.request_body = self.body
        for status, response in (self.responses or {}).items():
            if isinstance(response, OpenAPIResponse) and (headers := self.headers_for(status)):
                response.headers = {**(response.headers or {}), **headers}

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """The headers of the ``status`` response: Retry-After on 429 and 503."""
        return {"Retry-After": RETRY_AFTER_HEADER} if status in ("429", "503") else {}


def ok(struct: type[msgspec.Struct], description: str, value: object) -> ResponseSpec:
    """A success response of ``struct``, with ``value`` as its one example."""
    return ResponseSpec(
        struct,
        description=description,
        generate_examples=False,
        examples=[Example(summary=description, value=value)],
    )


def problem(
    struct: type[msgspec.Struct], description: str, *examples: ProblemExample
) -> ResponseSpec:
    """An RFC 9457 problem response of ``struct`` (the app's ``Problem``), with examples."""
    return ResponseSpec(
        struct,
        description=description,
        media_type=PROBLEM_JSON,
        generate_examples=False,
        examples=[
            Example(
                summary=summary,
                value={
                    "type": "about:blank",
                    "title": title,
                    "status": status,
                    "detail": detail,
                    "code": code,
                },
            )
            for summary, status, title, code, detail in examples
        ],
    )


def openapi_config(
    title: str,
    description: str,
    tags: Sequence[Tag],
    components: Components | None = None,
    *,
    docs_assets: DocsAssets = "local",
) -> OpenAPIConfig:
    """An app's OpenAPI configuration: document metadata and the docs pages under
    ``/schema`` (Scalar at ``/schema``, Swagger UI at ``/schema/swagger``, the JSON at
    ``/schema/openapi.json``). ``tags`` are the app's own: the probes' tag is added.
    ``docs_assets`` (``DOCS_ASSETS``) says where the pages' scripts come from: this service
    (``/schema/assets/...``) or the CDN; the document is the same either way."""
    return OpenAPIConfig(
        title=title,
        version="1.0.0",
        description=description,
        tags=[*tags, OPERATIONS_TAG],
        components=components or Components(),
        path="/schema",
        render_plugins=[
            DocsScalarPlugin(docs_assets),
            DocsSwaggerPlugin(docs_assets),
            JsonRenderPlugin(),
        ],
    )
