"""The JSON key files of forward-secure sealing, and their strict parsing.

PURE: no event loop, no file. Every key file is one JSON object whose ``format``
field names what it is; :func:`parse` accepts exactly the fields of that format
(none missing, none unknown, none twice) and :func:`hex_field` exactly the length
of each value. A :class:`KeyFormatError` names the field at fault and never quotes
a value, so a message can be logged even when the file held a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = (
    "MAX_KEY_FILE_BYTES",
    "PUBLIC_FORMAT",
    "SEALING_FORMAT",
    "SECRET_FORMAT",
    "KeyFormatError",
    "dump",
    "hex_field",
    "int_field",
    "parse",
    "str_field",
)

#: The secret verification key: deployment, origin, epoch_seconds, public_key, seed.
SECRET_FORMAT: Final = "asgi-audit-verification-key/1"  # noqa: S105 - a format tag
#: The public verification key: deployment, origin, epoch_seconds, public_key.
PUBLIC_FORMAT: Final = "asgi-audit-verification-key/public/1"
#: The host's sealing key (``sealing.key``).
SEALING_FORMAT: Final = "asgi-audit-sealing-key/1"
#: The largest key file read; every real one is under 1 KiB.
MAX_KEY_FILE_BYTES: Final = 65536

#: A format tag or field name that may be quoted back: short, plain, not a value.
_QUOTABLE: Final = re.compile(r"[a-z][a-z0-9_/.-]{0,47}\Z")
_HEX: Final = re.compile(r"[0-9a-f]*\Z")


class KeyFormatError(ValueError):
    """A key file that is not well formed; the message names the field, never its value."""


def dump(data: Mapping[str, Any]) -> bytes:
    """A key file's bytes: indented JSON, fields in the order given, a final newline."""
    return json.dumps(data, indent=2, ensure_ascii=True).encode("ascii") + b"\n"


def _quoted(name: object) -> str:
    return repr(name) if isinstance(name, str) and _QUOTABLE.match(name) else "(not shown)"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in pairs:
        if name in data:
            raise KeyFormatError(f"field {_quoted(name)} appears twice")
        data[name] = value
    return data


def _no_constant(name: str) -> Any:
    raise KeyFormatError(f"{name} is not a value a key file holds")


def parse(
    text: bytes | str, forms: Mapping[str, tuple[str, ...]], what: str
) -> tuple[dict[str, Any], str]:
    """The fields of a key file and its format, one of ``forms`` (format -> field names).

    Raises:
        KeyFormatError: the text is too long, not UTF-8, not one JSON object, has
            another format, a field missing, unknown or repeated.
    """
    if len(text) > MAX_KEY_FILE_BYTES:
        raise KeyFormatError(f"longer than {MAX_KEY_FILE_BYTES} bytes: not a {what} file")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyFormatError(f"not UTF-8 text: not a {what} file") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise KeyFormatError(
            f"not JSON (line {exc.lineno} column {exc.colno}): not a {what} file"
        ) from None
    if not isinstance(data, dict):
        raise KeyFormatError(f"not a JSON object: not a {what} file")
    form = data.get("format")
    expected = " or ".join(repr(f) for f in forms)
    if "format" not in data:
        raise KeyFormatError(f"no 'format' field: not a {what} file (expected {expected})")
    if form not in forms:
        shown = repr(form) if isinstance(form, str) and form.startswith("asgi-audit-") else None
        found = f"its format is {_quoted(form)}" if shown else "its format is unknown"
        raise KeyFormatError(f"not a {what} file: {found} (expected {expected})")
    assert isinstance(form, str)
    fields = forms[form]
    for name in fields:
        if name not in data:
            raise KeyFormatError(f"missing field {name!r}")
    unknown = sorted((n for n in data if n != "format" and n not in fields), key=str)
    if unknown:
        raise KeyFormatError(f"unknown field {_quoted(unknown[0])} in a {form} file")
    return data, form


def str_field(data: Mapping[str, Any], name: str) -> str:
    """The string ``data[name]``."""
    value = data[name]
    if not isinstance(value, str):
        raise KeyFormatError(f"field {name!r} must be a string")
    return value


def int_field(data: Mapping[str, Any], name: str) -> int:
    """The whole number ``data[name]`` (not a float, not a boolean)."""
    value = data[name]
    if type(value) is not int:
        raise KeyFormatError(f"field {name!r} must be a whole number")
    return value


def hex_field(data: Mapping[str, Any], name: str, size: int) -> bytes:
    """The ``size`` bytes written as ``2 * size`` lowercase hex digits in ``data[name]``."""
    value = data[name]
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX.match(value):
        raise KeyFormatError(f"field {name!r} must be {2 * size} lowercase hex digits")
    return bytes.fromhex(value)
