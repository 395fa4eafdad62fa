"""Elastic Common Schema (ECS 8.x) output profile: one native event as an ECS document.

PURE: no event loop, no file. :func:`to_ecs` takes an event dict as
``Pipeline.build`` gives it (already redacted and capped) and returns a document
of nested objects (``{"event": {"id": ...}}``, not dotted keys) that Elasticsearch,
Filebeat and Elastic Security read without an ingest pipeline.

Native fields moved to their ECS place (:data:`ECS_FIELDS`)::

    native            ECS
    ----------------  ---------------------------
    timestamp         @timestamp
    event_id          event.id
    event_action      event.action
    duration_ms       event.duration
    blocked_reason    event.reason
    risk_score        event.risk_score
    ip_address        source.ip, client.ip
    user_id           user.id, user.name
    user_agent        user_agent.original
    request_id        http.request.id
    method            http.request.method
    request_path      url.path
    query_string      url.query
    status_code       http.response.status_code
    response_bytes    http.response.body.bytes
    trace_id          trace.id
    span_id           span.id
    blocked_path      file.path
    rule_name         rule.name
    error_message     error.message
    exception_type    error.type
    stack_trace       error.stack_trace

Made from the event (never copied from a field of the same name):

* ``event.action``: the OWASP ``event_action`` where the event has one, else the
  ``event_type``; the ``event_type`` itself is always kept as ``asgi_audit.event_type``.
* ``event.kind``: ``alert`` for ``injection_attempt`` (a detection rule matched,
  as an intrusion detection system reports it), ``event`` for everything else.
* ``event.category`` and ``event.type``, arrays of ECS allowed values::

    event_type                            event.category       event.type
    ------------------------------------  -------------------  -----------------
    login_attempt                         authentication       start
    logout                                authentication       end
    session_created                       session              start
    session_expired                       session              end
    another session_* (category auth)     session              info
    injection_attempt, tool_path_blocked  intrusion_detection  info
    api_access                            api, web             access
    data_access (read, export)            database             access
    data_access (update, delete)          database             change
    websocket_connect                     network, web         connection, start
    websocket_close                       network, web         connection, end
    audit_started, audit_stopped          configuration        change

  Another event of a built-in category is ``info`` in that category's bucket (auth
  authentication, injection and tool_blocks intrusion_detection, api_audit api and
  web, data_access database, audit configuration). ECS expects no ``deletion`` in
  ``database``: a deleted record is a ``change`` there, and ``event.action``
  (``sensitive_delete``) says which. The outcome adds a type where one of the categories
  expects it (ECS's expected types per category): ``blocked``, ``denied`` and
  ``rate_limited`` add ``denied``, ``logged`` and ``warned`` (a detection let
  through) add ``allowed`` (both where api, intrusion_detection or network is
  present), ``error`` adds ``error`` (with web); each replaces a lone ``info``. So a
  blocked injection is intrusion_detection/denied, a refused request api+web/
  access+denied, a locked login authentication/start (``event.outcome`` failure and
  ``event.action`` authn_login_lock say the rest). A custom category, and the
  bookkeeping events ``events_dropped`` and ``partial_line_recovered``, get
  neither field: a wrong bucket would skew the dashboards that count it.
* ``event.outcome``: ``success`` from success; ``failure`` from failed, denied,
  blocked, rate_limited, error, dropped, disconnected; ``unknown`` from any other
  outcome, ``unknown`` itself included (an event recorded without one); left out
  only for a dict without ``outcome``, which the pipeline never gives. A detection
  (``injection_attempt``, ``tool_path_blocked``) is ``success`` whatever it did: the
  control acted (ECS's categorization guide reads ``failure`` as the control
  failing), and ``event.type`` denied or allowed says what it did.
  ``asgi_audit.outcome`` keeps ours.
* A request's ``request_received`` record (written as it arrives, before its end) is
  ``api``/``start``, not ``web``/``access``: dashboards that count web accesses count
  each request once, by its end.
* ``user.name`` is the ``user_id`` as well (Kibana's authentication views group by
  it); ``host.name`` is this host's name.
* ``event.dataset`` ``asgi_audit.<category>``; ``ecs.version`` :data:`ECS_VERSION`;
  ``message`` a short summary (``login_attempt failed``, ``api_access success GET
  /items/7 200``).

``epoch_ms`` is dropped once ``@timestamp`` holds the same clock read (to the
microsecond). Every other field, ``event_type``, ``category``, ``outcome``,
``schema_version``, ``session_id``, ``agent_id``, ``resource`` and the caller's own
included, goes under the custom namespace ``asgi_audit`` by its own name, as ECS
recommends for fields it does not define. So does a value that does not fit its ECS
type (a status that is not an integer, an ``ip_address`` such as ``testclient``
that is no IP address, a timestamp without a time zone): ECS fields hold only
values Elasticsearch indexes, and nothing is lost. :func:`to_ecs` never raises.

The integrity fields (``stream``, ``seq``, ``prev_stream``, ``prev_seq``,
``prev_mac``, ``mac_key_id``, ``mac``) go under the same namespace, last in it,
``mac`` the very last, and the namespace is the document's last field: so they
are ``asgi_audit.stream``, ``asgi_audit.seq``, ... as ECS asks of fields it does
not define, and ``asgi-audit verify`` finds them where the seal put them (see
:mod:`asgi_audit.proof.integrity`). A sealed line cannot be converted afterwards
(its MAC covers its bytes): convert before the chain stamps and seals the event.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from .ecs_namespace import typed_namespace
from .events import INTEGRITY_FIELDS

__all__ = ("ECS_FIELDS", "ECS_TYPES", "ECS_VERSION", "NAMESPACE", "to_ecs")

#: The ECS release the documents follow.
ECS_VERSION: Final = "8.17.0"
#: The object holding every field ECS does not define.
NAMESPACE: Final = "asgi_audit"

#: Native name -> the ECS fields it moves to, when its value fits their type.
ECS_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "timestamp": ("@timestamp",),
    "event_id": ("event.id",),
    "event_action": ("event.action",),
    "duration_ms": ("event.duration",),
    "blocked_reason": ("event.reason",),
    "risk_score": ("event.risk_score",),
    "ip_address": ("source.ip", "client.ip"),
    "user_id": ("user.id", "user.name"),
    "user_agent": ("user_agent.original",),
    "request_id": ("http.request.id",),
    "method": ("http.request.method",),
    "request_path": ("url.path",),
    "query_string": ("url.query",),
    "status_code": ("http.response.status_code",),
    "response_bytes": ("http.response.body.bytes",),
    "trace_id": ("trace.id",),
    "span_id": ("span.id",),
    "blocked_path": ("file.path",),
    "rule_name": ("rule.name",),
    "error_message": ("error.message",),
    "exception_type": ("error.type",),
    "stack_trace": ("error.stack_trace",),
}

#: Every ECS field :func:`to_ecs` can write, with its ECS type, in document order.
ECS_TYPES: Final[Mapping[str, str]] = {
    "@timestamp": "date",
    "message": "match_only_text",
    "ecs.version": "keyword",
    "event.kind": "keyword",
    "event.category": "keyword",
    "event.type": "keyword",
    "event.outcome": "keyword",
    "event.action": "keyword",
    "event.dataset": "keyword",
    "event.id": "keyword",
    "event.duration": "long",
    "event.reason": "keyword",
    "event.risk_score": "float",
    "host.name": "keyword",
    "source.ip": "ip",
    "client.ip": "ip",
    "user.id": "keyword",
    "user.name": "keyword",
    "user_agent.original": "keyword",
    "http.request.id": "keyword",
    "http.request.method": "keyword",
    "http.response.status_code": "long",
    "http.response.body.bytes": "long",
    "url.path": "wildcard",
    "url.query": "keyword",
    "trace.id": "keyword",
    "span.id": "keyword",
    "file.path": "keyword",
    "rule.name": "keyword",
    "error.type": "keyword",
    "error.message": "match_only_text",
    "error.stack_trace": "wildcard",
}

_Categorization = tuple[tuple[str, ...], tuple[str, ...]]
# event_type -> (event.category, event.type) before the outcome adjusts the types.
_BY_TYPE: Final[Mapping[str, _Categorization]] = {
    "login_attempt": (("authentication",), ("start",)),
    "logout": (("authentication",), ("end",)),
    "session_created": (("session",), ("start",)),
    "session_expired": (("session",), ("end",)),
    "injection_attempt": (("intrusion_detection",), ("info",)),
    "tool_path_blocked": (("intrusion_detection",), ("info",)),
    "api_access": (("api", "web"), ("access",)),
    "websocket_connect": (("network", "web"), ("connection", "start")),
    "websocket_close": (("network", "web"), ("connection", "end")),
    "audit_started": (("configuration",), ("change",)),
    "audit_stopped": (("configuration",), ("change",)),
}
_BY_CATEGORY: Final[Mapping[str, tuple[str, ...]]] = {
    "auth": ("authentication",),
    "injection": ("intrusion_detection",),
    "tool_blocks": ("intrusion_detection",),
    "api_audit": ("api", "web"),
    "data_access": ("database",),
    "audit": ("configuration",),
}
# data_access action -> event.type in ECS's database category.
_DATA_TYPES: Final[Mapping[str, str]] = {
    "read": "access",
    "export": "access",
    "update": "change",
    "delete": "change",
}
_BOOKKEEPING: Final = frozenset({"events_dropped", "partial_line_recovered"})
_ALLOW_DENY: Final = frozenset({"api", "intrusion_detection", "network"})
# outcome -> the event.type it adds, and the categories (of those used here) where
# ECS expects that type: a locked login stays authentication/start.
_OUTCOME_TYPES: Final[Mapping[str, tuple[str, frozenset[str]]]] = {
    "blocked": ("denied", _ALLOW_DENY),
    "denied": ("denied", _ALLOW_DENY),
    "rate_limited": ("denied", _ALLOW_DENY),
    "logged": ("allowed", _ALLOW_DENY),
    "warned": ("allowed", _ALLOW_DENY),
    "error": ("error", frozenset({"web"})),
}
_FAILURE: Final = frozenset(
    {"failed", "failure", "denied", "blocked", "rate_limited", "error", "dropped", "disconnected"}
)
_HTTP_TYPES: Final = frozenset({"api_access", "websocket_connect", "websocket_close"})
_CONTROLS: Final = frozenset({"injection_attempt", "tool_path_blocked"})
#: This host's name (``host.name``: the host the app ran on).
HOST: Final = socket.gethostname() or "localhost"

_LONG_MIN: Final = -(2**63)
_LONG_MAX: Final = 2**63 - 1
_FLOAT_MAX: Final = 3.4028234663852886e38  # ECS float is a 32-bit float
_DATE_RE: Final = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})\Z"
)
_MISFIT: Final = object()


def _fits(kind: str, value: Any) -> bool:
    """Whether the ECS type ``kind`` indexes ``value`` as it is."""
    if kind in ("long", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if kind == "float":  # a 32-bit float; NaN and infinities fail the comparison
            return abs(value) <= _FLOAT_MAX
        return isinstance(value, int) and _LONG_MIN <= value <= _LONG_MAX
    if not isinstance(value, str):
        return False
    if kind == "date":  # ISO 8601 with a time zone, in the form every date parser reads
        match = _DATE_RE.match(value)
        if match is None:
            return False
        zone = "+00:00" if match[3] == "Z" else match[3]
        return _parses(datetime.fromisoformat, match[1] + zone)
    if kind == "ip":  # no IPv6 zone (fe80::1%eth0): Elasticsearch refuses one
        return "%" not in value and _parses(ipaddress.ip_address, value)
    return True  # keyword, wildcard, match_only_text


def _parses(parse: Callable[[str], object], text: str) -> bool:
    try:
        parse(text)
    except ValueError:  # month 13, hour 25, 256.1.1.1, ...
        return False
    return True


def _nanoseconds(duration_ms: Any) -> Any:
    if not _fits("float", duration_ms) or duration_ms < 0:
        return _MISFIT
    nanos = round(duration_ms * 1_000_000)
    return nanos if _fits("long", nanos) else _MISFIT


def _categorize(
    event_type: str | None,
    category: str | None,
    outcome: str | None,
    action: Any = None,
    stage: Any = None,
) -> _Categorization | None:
    if event_type is None or event_type in _BOOKKEEPING:
        return None
    if event_type == "api_access" and stage == "request_received":
        # The arrival of a request recorded before its end: an API call starting,
        # not a second web access (dashboards that count web accesses count one).
        return ("api",), ("start",)
    found = _BY_TYPE.get(event_type)
    if event_type == "data_access" and isinstance(action, str) and action in _DATA_TYPES:
        found = (("database",), (_DATA_TYPES[action],))
    if found is None:
        if category == "auth" and event_type.startswith("session_"):
            found = (("session",), ("info",))
        elif category is not None and category in _BY_CATEGORY:
            found = (_BY_CATEGORY[category], ("info",))
        else:
            return None
    categories, types = found
    added = _OUTCOME_TYPES.get(outcome) if outcome is not None else None
    if added is not None and not added[1].isdisjoint(categories):
        types = (added[0],) if types == ("info",) else (*types, added[0])
    return categories, types


def _outcome(outcome: str | None, event_type: str | None) -> str:
    if event_type in _CONTROLS:
        # A detection recorded is the control that acted (blocked, held, or let
        # through as configured): ECS's failure would read as the control failing.
        return "success"
    if outcome == "success":
        return "success"
    return "failure" if outcome in _FAILURE else "unknown"


def _summary(event: Mapping[str, Any], event_type: str | None, outcome: str | None) -> str:
    parts = [event_type or "event"]
    if outcome is not None:
        parts.append(outcome)
    if event_type in _HTTP_TYPES:
        parts += [v for v in (event.get("method"), event.get("request_path")) if isinstance(v, str)]
        if _fits("long", event.get("status_code")):
            parts.append(str(event["status_code"]))
    return " ".join(parts)


def _nest(doc: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = doc
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = value


def to_ecs(event: dict[str, Any]) -> dict[str, Any]:
    """The ECS document of one native event (see the module doc); never raises.

    ``event`` is not changed. The result holds only JSON values when ``event`` does.
    """
    # Odd input must not raise: only strings are looked up in the tables.
    event_type, outcome, category = (
        value if isinstance(value, str) else None
        for value in (event.get("event_type"), event.get("outcome"), event.get("category"))
    )
    stamped = _fits("date", event.get("timestamp"))
    flat: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    items: Iterable[tuple[Any, Any]] = event.items()
    for key, value in items:
        if not isinstance(key, str):  # not from the pipeline, but never a reason to fail
            custom[str(key)] = value
            continue
        if key in INTEGRITY_FIELDS:
            custom[key] = value  # typed_namespace puts the seal last, in its order
            continue
        targets = ECS_FIELDS.get(key, ())
        if key == "duration_ms":
            fitted = _nanoseconds(value)
        else:
            fitted = value if targets and _fits(ECS_TYPES[targets[0]], value) else _MISFIT
        if fitted is _MISFIT:
            if key != "epoch_ms" or not stamped:  # @timestamp holds the same clock read
                custom[key] = value
            continue
        for target in targets:
            flat[target] = fitted
    flat["message"] = _summary(event, event_type, outcome)
    flat["ecs.version"] = ECS_VERSION
    flat["host.name"] = HOST
    flat["event.kind"] = "alert" if event_type == "injection_attempt" else "event"
    categorization = _categorize(
        event_type, category, outcome, event.get("action"), event.get("stage")
    )
    if categorization is not None:
        flat["event.category"], flat["event.type"] = map(list, categorization)
    if "outcome" in event:
        flat["event.outcome"] = _outcome(outcome, event_type)
    if "event.action" not in flat and event_type is not None:
        flat["event.action"] = event_type
    if category is not None:
        flat["event.dataset"] = f"{NAMESPACE}.{category}"
    doc: dict[str, Any] = {}
    for name in ECS_TYPES:
        if name in flat:
            _nest(doc, name, flat[name])
    if custom:
        # Typed fields, the rest under data, the seal last: the document's last field.
        doc[NAMESPACE] = typed_namespace(custom)
    return doc
