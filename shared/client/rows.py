"""The rows of a bulk encryption's input file: reading CSV or JSON Lines, streamed.

The input is CSV (a header row, then records) or JSON Lines (one object a line).
A row is a CSV record after the header, or a non-blank JSONL line; rows are numbered from 1
in file order, and that number is the key of the output.

- A row with a ``token`` field (``token_field``) is sent as is.
- Otherwise its fields are the claims of a JWS that
  :class:`~shared.client.row_signer.RowSigner` signs with the customer's key (``sub`` and
  ``campaignId`` are required by the API, which refuses the row with
  ``TOKEN_INVALID_CLAIMS`` without them). Fields whose name starts with ``_`` are never
  claims (use one as the row's id). In CSV, empty cells are left out, ``profile.email``
  nests (``{"profile": {"email": …}}``), a ``:json`` suffix parses the cell as JSON
  (``limit:json`` = ``{"nb": 1, "canPlay": true}``), and ``exp``/``iat``/``nbf`` are numbers.
- ``id_field`` names a field copied to the output as ``id``, to join results back.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from shared.errors import ServiceError

__all__ = [
    "FORMATS",
    "ROW_INVALID",
    "TOKEN_FIELD",
    "Format",
    "InputInvalid",
    "Row",
    "count_rows",
    "detect_format",
    "first_tokens",
    "read_rows",
]

Format = Literal["csv", "jsonl"]
FORMATS: Final[dict[str, Format]] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: The field (CSV column, JSONL key) holding a row's token.
TOKEN_FIELD: Final = "token"  # noqa: S105 - a field name, not a secret
#: The code of a line that is not a usable row (not JSON, not an object, a bad cell).
ROW_INVALID: Final = "ROW_INVALID"
_TIME_CLAIMS: Final = frozenset({"exp", "iat", "nbf"})


class InputInvalid(ServiceError):
    """The input file cannot be read as rows, or rows need a key that was not given."""

    code = "INPUT_INVALID"


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """One input row: a token to send, claims to sign, or why it is unusable."""

    number: int
    id: Any = msgspec.UNSET
    token: str | None = None
    claims: dict[str, Any] | None = None
    problem: str | None = None


def detect_format(path: Path, given: Format | None = None) -> Format:
    """``given``, or the format named by the file's extension.

    Raises:
        InputInvalid: an extension we do not know, and no ``given``.
    """
    if given is not None:
        return given
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputInvalid(f"cannot tell the format of {path.name!r}: name it .csv or .jsonl")
    return fmt


def _jsonl_records(path: Path) -> Iterator[bytes]:
    with _open(path, "rb") as file:
        for index, line in enumerate(file):
            if index == 0 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]  # noqa: PLW2901 - a BOM (some editors add one) is not data
            if line.strip():
                yield line


def _csv_records(path: Path) -> Iterator[list[str]]:
    """Every non-empty CSV record, the header first."""
    with _open(path, "r") as file:
        reader = csv.reader(file)
        try:
            for record in reader:
                if record:
                    yield record
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputInvalid(f"{path.name} line {reader.line_num}: {exc}") from None


def _open(path: Path, mode: Literal["r", "rb"]) -> Any:
    try:
        if mode == "rb":
            return path.open("rb")
        return path.open("r", newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputInvalid(f"cannot read {path}: {exc.strerror}") from None


def count_rows(path: Path, fmt: Format) -> int:
    """How many rows ``read_rows`` yields (a quick pass, for progress and checks)."""
    if fmt == "jsonl":
        return sum(1 for _ in _jsonl_records(path))
    return max(0, sum(1 for _ in _csv_records(path)) - 1)


def read_rows(
    path: Path, fmt: Format, *, token_field: str = TOKEN_FIELD, id_field: str | None = None
) -> Iterator[Row]:
    """The rows of ``path``, streamed (see the module docstring for the row model).

    Raises:
        InputInvalid: unreadable file, bad CSV header, or an ``id_field`` it lacks.
    """
    if fmt == "jsonl":
        for number, line in enumerate(_jsonl_records(path), start=1):
            yield _jsonl_row(number, line, token_field, id_field)
        return
    records = _csv_records(path)
    header = next(records, None)
    if header is None:
        return
    _check_header(header, id_field)
    token_at = header.index(token_field) if token_field in header else None
    id_at = header.index(id_field) if id_field is not None else None
    for number, cells in enumerate(records, start=1):
        row_id = cells[id_at] if id_at is not None and id_at < len(cells) else msgspec.UNSET
        if len(cells) > len(header):
            yield Row(
                number=number, id=row_id, problem=f"{len(cells)} cells for {len(header)} columns"
            )
        elif token_at is not None:
            token = cells[token_at] if token_at < len(cells) else ""
            yield Row(number=number, id=row_id, token=token)
        else:
            yield _csv_claims_row(number, row_id, header, cells)


def _check_header(header: list[str], id_field: str | None) -> None:
    if any(not name.strip() for name in header):
        raise InputInvalid("the CSV header has a column without a name")
    if len(set(header)) != len(header):
        raise InputInvalid("the CSV header names a column twice")
    if id_field is not None and id_field not in header:
        raise InputInvalid(f"the CSV header has no {id_field!r} column (--id-field)")


def _jsonl_row(number: int, line: bytes, token_field: str, id_field: str | None) -> Row:
    try:
        value = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return Row(number=number, problem="not valid JSON")
    if not isinstance(value, dict):
        return Row(number=number, problem="not a JSON object")
    row_id = value.get(id_field, msgspec.UNSET) if id_field is not None else msgspec.UNSET
    if token_field in value:
        token = value[token_field]
        if not isinstance(token, str):
            return Row(number=number, id=row_id, problem=f"{token_field!r} is not a string")
        return Row(number=number, id=row_id, token=token)
    claims = {k: v for k, v in value.items() if not k.startswith("_")}
    return Row(number=number, id=row_id, claims=claims)


def _csv_claims_row(number: int, row_id: Any, header: list[str], cells: list[str]) -> Row:
    claims: dict[str, Any] = {}
    for name, cell in zip(header, cells, strict=False):
        if name.startswith("_") or cell == "":
            continue
        value: Any = cell
        if name.endswith(":json"):
            name = name.removesuffix(":json")  # noqa: PLW2901 - the claim's own name
            try:
                value = msgspec.json.decode(cell)
            except msgspec.DecodeError:
                return Row(number=number, id=row_id, problem=f"column {name!r}: not valid JSON")
        elif name in _TIME_CLAIMS:
            value = _number(cell)
        target = claims
        *parents, leaf = name.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                return Row(
                    number=number, id=row_id, problem=f"column {name!r}: {parent!r} is set twice"
                )
        if leaf in target:  # `profile` after `profile.email`, or a column given twice
            return Row(number=number, id=row_id, problem=f"column {name!r}: {leaf!r} is set twice")
        target[leaf] = value
    return Row(number=number, id=row_id, claims=claims)


def _number(cell: str) -> int | float | str:
    """A number if the cell is one; else the text, which the API then refuses by name."""
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


def first_tokens(
    path: Path, fmt: Format, *, token_field: str = TOKEN_FIELD, limit: int = 10
) -> list[str]:
    """The first ``limit`` tokens of the input (candidates for a ``jwt-bearer`` exchange)."""
    found: list[str] = []
    for row in read_rows(path, fmt, token_field=token_field):
        if row.token:
            found.append(row.token)
            if len(found) == limit:
                break
    return found
