"""The ``asgi_audit`` namespace of the ECS profile, with one type per field.

PURE: no event loop, no file. An Elasticsearch index maps each field once, by the
first document that has it: a field that is a number in one document and text in
the next, or an object in one and a string in the next, gets the later documents
refused. So the namespace holds:

* the library's own fields under their own names, each with the type of
  :data:`NAMESPACE_TYPES` (a ``keyword`` value that is a number or a boolean is
  written as its JSON text; a value that cannot take its type at all goes to
  ``data``);
* everything else, the caller's own fields above all, under ``asgi_audit.data``,
  an object mapped as ``flattened``: Elasticsearch indexes every leaf of it as a
  keyword, whatever its JSON type, and a key with a dot in it (``"a.b"``) is one
  key there, never read as an object ``a`` holding ``b``;
* the seal last (``stream``, ``seq``, ``mac``, ...), where the chain put it.

:func:`index_template` is the mapping that goes with it, for an index template
(``docs/shipping/elasticsearch-template.json`` is this function's output).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from .events import INTEGRITY_ORDER

__all__ = ("DATA", "NAMESPACE_TYPES", "index_template", "typed_namespace")

#: The flattened object of the fields the namespace gives no type of their own.
DATA: Final = "data"

_KEYWORD: Final = "keyword"
_LONG: Final = "long"
_BOOLEAN: Final = "boolean"
_FLATTENED: Final = "flattened"

#: The library's own fields in the namespace, and the Elasticsearch type of each.
NAMESPACE_TYPES: Final[Mapping[str, str]] = {
    # every event
    "event_type": _KEYWORD,
    "category": _KEYWORD,
    "outcome": _KEYWORD,
    "schema_version": _LONG,
    "resource": _KEYWORD,
    "session_id": _KEYWORD,
    "agent_id": _KEYWORD,
    "ip_address_rejected": _KEYWORD,
    "event_action": _KEYWORD,
    "truncated": _BOOLEAN,
    "truncated_fields": _FLATTENED,
    "encoding_error": _KEYWORD,
    "details": _FLATTENED,
    # requests and websockets
    "stage": _KEYWORD,
    "audit_level": _KEYWORD,
    "request_headers": _FLATTENED,
    "request_body": _FLATTENED,
    "response_body": _FLATTENED,
    "accepted": _BOOLEAN,
    "close_code": _LONG,
    "closed_by": _KEYWORD,
    "messages_in": _LONG,
    "messages_out": _LONG,
    "bytes_in": _LONG,
    "bytes_out": _LONG,
    "messages": _FLATTENED,
    "authz_decision": _KEYWORD,
    "authz_reason": _KEYWORD,
    "authz_policy": _KEYWORD,
    "authz_reason_missing": _BOOLEAN,
    "fail_closed": _BOOLEAN,
    "fail_closed_reason": _KEYWORD,
    # detections
    "tool_name": _KEYWORD,
    "severity": _KEYWORD,
    "matched_text": _KEYWORD,
    "raw_input": _KEYWORD,
    # data_access
    "action": _KEYWORD,
    "resource_type": _KEYWORD,
    "resource_id": _KEYWORD,
    "ids": _KEYWORD,
    "record_count": _LONG,
    "purpose": _KEYWORD,
    "access_id": _KEYWORD,
    "part": _LONG,
    "parts": _LONG,
    # the library's bookkeeping and the commands' records
    "dropped_count": _LONG,
    "first_dropped_at": _KEYWORD,
    "last_dropped_at": _KEYWORD,
    "partial_file": _KEYWORD,
    "partial_bytes": _LONG,
    "command": _KEYWORD,
    "arguments": _KEYWORD,
    "log_dir": _KEYWORD,
    "os_user": _KEYWORD,
    "uid": _LONG,
    "host": _KEYWORD,
    "pid": _LONG,
    "exit_status": _LONG,
    # the seal
    "stream": _KEYWORD,
    "seq": _LONG,
    "prev_stream": _KEYWORD,
    "prev_seq": _LONG,
    "prev_mac": _KEYWORD,
    "mac_key_id": _KEYWORD,
    "mac": _KEYWORD,
}
_SEAL: Final = INTEGRITY_ORDER
_MISFIT: Final = object()
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def _keyword(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float) and value == value and abs(value) != float("inf"):
        return orjson.dumps(value).decode()  # 7 -> "7", True -> "true"
    if isinstance(value, list):  # an array of keywords, each as above
        items = [_keyword(item) for item in value]
        return (
            _MISFIT if any(item is _MISFIT or isinstance(item, list) for item in items) else items
        )
    return _MISFIT


def _typed(kind: str, value: Any) -> Any:
    if kind == _KEYWORD:
        return _keyword(value)
    if kind == _LONG:
        fits = isinstance(value, int) and not isinstance(value, bool)
        return value if fits and _LONG_MIN <= value <= _LONG_MAX else _MISFIT
    if kind == _BOOLEAN:
        return value if isinstance(value, bool) else _MISFIT
    return value if isinstance(value, dict) else {"value": value}  # flattened


def typed_namespace(custom: Mapping[str, Any]) -> dict[str, Any]:
    """The namespace object of a document: typed fields, then ``data``, then the seal."""
    typed: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for key, value in custom.items():
        if key in _SEAL:
            continue
        kind = NAMESPACE_TYPES.get(key)
        fitted = _MISFIT if kind is None else _typed(kind, value)
        if fitted is _MISFIT:
            data[key] = value
        else:
            typed[key] = fitted
    if data:
        typed[DATA] = data
    for key in _SEAL:
        if key in custom:
            typed[key] = custom[key]
    return typed


def index_template(ecs_types: Mapping[str, str], namespace: str) -> dict[str, Any]:
    """An Elasticsearch composable index template for the ECS documents: the ECS
    fields the profile writes (``ecs_types``), and the namespace's."""
    properties: dict[str, Any] = {}
    for dotted, kind in ecs_types.items():
        node = properties
        *parents, leaf = dotted.split(".")
        for name in parents:
            node = node.setdefault(name, {"properties": {}})["properties"]
        node[leaf] = {"type": kind}
    own = {name: {"type": kind} for name, kind in NAMESPACE_TYPES.items()}
    own[DATA] = {"type": _FLATTENED}
    properties[namespace] = {"properties": own}
    return {
        "index_patterns": ["asgi-audit-*"],
        "template": {"mappings": {"dynamic": "strict", "properties": properties}},
        "priority": 200,
        "_meta": {"description": "asgi_audit ECS documents (output_format='ecs')"},
    }
