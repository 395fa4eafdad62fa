"""Open Cybersecurity Schema Framework (OCSF 1.8.0) output profile: one native event as
an OCSF event of the class that fits it.

PURE: no event loop, no file. :func:`to_ocsf` takes an event dict as
``Pipeline.build`` gives it (already redacted and capped) and returns an OCSF
event; the tests validate each against the class's JSON Schema made from the
published OCSF schema (``ocsf-json-schema``'s copy of the schema.ocsf.io export).

Classes::

    event_type                          class (uid)                    activity
    ----------------------------------  -----------------------------  ------------------------
    login_attempt                       Authentication (3002)          Logon (1)
    logout                              Authentication (3002)          Logoff (2)
    another auth event (session_*)      Authentication (3002)          Other (99), its name
    api_access                          API Activity (6003)            by method: Create (1)
                                                                       POST, Read (2) GET/HEAD,
                                                                       Update (3) PUT/PATCH,
                                                                       Delete (4), else Other
    websocket_connect, websocket_close  HTTP Activity (4002)           Connect (1); Other (99)
    injection_attempt                   Detection Finding (2004)       Create (1)
    tool_path_blocked                   Detection Finding (2004)       Create (1)
    data_access                         Datastore Activity (6005)      Read (1) read/export,
                                                                       Update (2), Delete (7)
    audit_started, audit_stopped        Application Lifecycle (6002)   Start (3), Stop (4)
    anything else                       Base Event (0)                 Other (99)

Every event has ``time`` (the epoch milliseconds), ``metadata`` (``version``
:data:`OCSF_VERSION`, the ``product``, ``uid`` the event id, ``log_name`` the
category), ``severity_id``, ``status_id`` (1 Success, 2 Failure, 0 Unknown, 99
Other with ``status`` the native outcome; a Detection Finding's status is its
own, 1 New), ``message``, the request's ``src_endpoint``, ``http_request`` and
``actor`` where the class has them (OCSF needs a user and an endpoint to be named:
one not known is ``"unknown"``, with the user's ``type_id`` 0 Unknown; a client
address that is no IP is the endpoint's ``name``), an authentication's
``dst_endpoint`` (this host's name) and a data access's ``table`` (its
``resource_type``), and ``unmapped``: every native field, by its
own name, so nothing is lost. A Detection Finding carries the
``security_control`` profile: ``action_id`` Denied (2) and ``disposition_id``
Blocked (2) for a block, Delayed (14) for a tool call held for approval, Allowed
(1) for a detection let through (``logged``, ``warned``), so a block is not a
failure: the control acted.

The integrity fields go last in ``unmapped``, which is the event's last field:
OCSF allows no other field at the top level, and ``asgi-audit verify`` finds the
seal there (see :mod:`asgi_audit.proof.integrity`). :func:`to_ocsf` never raises.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any, Final

from .events import INTEGRITY_FIELDS, INTEGRITY_ORDER

__all__ = ("CLASSES", "OCSF_VERSION", "UNMAPPED", "to_ocsf")

#: The OCSF release the events follow.
OCSF_VERSION: Final = "1.8.0"
#: The object holding every native field, and the seal.
UNMAPPED: Final = "unmapped"

_PRODUCT: Final = {"name": "asgi_audit", "vendor_name": "asgi_audit"}

# class name -> (category_uid, class_uid)
CLASSES: Final[Mapping[str, tuple[int, int]]] = {
    "base_event": (0, 0),
    "detection_finding": (2, 2004),
    "authentication": (3, 3002),
    "http_activity": (4, 4002),
    "application_lifecycle": (6, 6002),
    "api_activity": (6, 6003),
    "datastore_activity": (6, 6005),
}
_OTHER: Final = 99
_API_ACTIVITY: Final[Mapping[str, int]] = {
    "POST": 1,
    "GET": 2,
    "HEAD": 2,
    "PUT": 3,
    "PATCH": 3,
    "DELETE": 4,
}
_DATA_ACTIVITY: Final[Mapping[str, int]] = {"read": 1, "export": 1, "update": 2, "delete": 7}
_SEVERITY: Final[Mapping[str, int]] = {
    "LOW": 2,
    "WARNING": 3,
    "MEDIUM": 3,
    "HIGH": 4,
    "CRITICAL": 5,
}
_FAILURE: Final = frozenset(
    {"failed", "failure", "denied", "blocked", "rate_limited", "error", "dropped", "disconnected"}
)
_HTTP: Final = frozenset({"api_access", "websocket_connect", "websocket_close"})
_HTTP_METHODS: Final = frozenset(
    {"OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT", "PATCH"}
)
#: This host's name: where a login is checked (an authentication's ``dst_endpoint``).
HOST: Final = socket.gethostname() or "localhost"
_INT_MAX: Final = 2**63 - 1


def _activity(known: Mapping[str, int], value: Any) -> tuple[int, str | None]:
    """The activity_id ``value`` names in ``known``, else Other with ``value`` as its name."""
    activity = known.get(value, _OTHER) if isinstance(value, str) else _OTHER
    return activity, None if activity != _OTHER else str(value)


def _class_of(
    event_type: Any, category: Any, event: Mapping[str, Any]
) -> tuple[str, int, str | None]:
    """(class name, activity_id, activity_name for an Other activity)."""
    if event_type == "login_attempt":
        return "authentication", 1, None
    if event_type == "logout":
        return "authentication", 2, None
    if category == "auth" and isinstance(event_type, str):
        return "authentication", _OTHER, event_type
    if event_type == "api_access":
        return "api_activity", *_activity(_API_ACTIVITY, event.get("method"))
    if event_type == "websocket_connect":
        return "http_activity", 1, None
    if event_type == "websocket_close":
        return "http_activity", _OTHER, "Close"
    if event_type in ("injection_attempt", "tool_path_blocked"):
        return "detection_finding", 1, None
    if event_type == "data_access":
        return "datastore_activity", *_activity(_DATA_ACTIVITY, event.get("action"))
    if event_type == "audit_started":
        return "application_lifecycle", 3, None
    if event_type == "audit_stopped":
        return "application_lifecycle", 4, None
    return "base_event", _OTHER, str(event_type)[:256]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _whole(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not -_INT_MAX <= value <= _INT_MAX:
        return None
    return value


def _ip(value: Any) -> str | None:
    if not isinstance(value, str) or "%" in value:
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return None
    return value


def _status(outcome: Any) -> dict[str, Any]:
    if outcome == "success":
        return {"status_id": 1, "status": "Success"}
    if isinstance(outcome, str) and outcome in _FAILURE:
        return {"status_id": 2, "status": "Failure"}
    if outcome is None or outcome == "unknown":
        return {"status_id": 0, "status": "Unknown"}
    return {"status_id": _OTHER, "status": str(outcome)[:256]}


def _request(event: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {}
    method, path = _text(event.get("method")), _text(event.get("request_path"))
    if method in _HTTP_METHODS:  # OCSF names these alone; another stays in unmapped
        request["http_method"] = method
    if path is not None:  # OCSF's url needs more than a query string
        url: dict[str, Any] = {"path": path}
        query = _text(event.get("query_string"))
        if query is not None:
            url["query_string"] = query
        request["url"] = url
    agent = _text(event.get("user_agent"))
    if agent is not None:
        request["user_agent"] = agent
    rid = _text(event.get("request_id"))
    if rid is not None:
        request["uid"] = rid
    return request


def _user(event: Mapping[str, Any]) -> dict[str, Any]:
    # OCSF's user needs a name, uid or account: one not known is named so.
    user = _text(event.get("user_id"))
    if user is None:
        return {"name": "unknown", "type_id": 0, "type": "Unknown"}
    return {"uid": user, "name": user}


def _endpoint(event: Mapping[str, Any]) -> dict[str, Any]:
    # OCSF's endpoint needs an ip, name, hostname, ...: a client address that is no
    # IP (a test client, a rejected forwarded hop) is its name, none is "unknown".
    ip = _ip(event.get("ip_address"))
    if ip is not None:
        return {"ip": ip}
    text = _text(event.get("ip_address")) or _text(event.get("ip_address_rejected"))
    return {"name": text[:256] if text else "unknown"}


def _summary(event_type: Any, outcome: Any, event: Mapping[str, Any]) -> str:
    parts = [str(event_type or "event")[:128]]
    if outcome is not None:
        parts.append(str(outcome)[:128])
    if isinstance(event_type, str) and event_type in _HTTP:
        parts += [v for v in (event.get("method"), event.get("request_path")) if isinstance(v, str)]
        status = _whole(event.get("status_code"))
        if status is not None:
            parts.append(str(status))
    return " ".join(parts)


def to_ocsf(event: dict[str, Any]) -> dict[str, Any]:
    """The OCSF event of one native event (see the module doc); never raises.

    ``event`` is not changed. The result holds only JSON values when ``event`` does.
    """
    event_type, category, outcome = (
        event.get("event_type"),
        event.get("category"),
        event.get("outcome"),
    )
    name, activity, activity_name = _class_of(event_type, category, event)
    category_uid, class_uid = CLASSES[name]
    epoch = _whole(event.get("epoch_ms"))
    metadata: dict[str, Any] = {"version": OCSF_VERSION, "product": dict(_PRODUCT)}
    uid = _text(event.get("event_id"))
    if uid is not None:
        metadata["uid"] = uid
    if isinstance(category, str):
        metadata["log_name"] = category
    doc: dict[str, Any] = {
        "time": 0 if epoch is None else epoch,
        "category_uid": category_uid,
        "class_uid": class_uid,
        "activity_id": activity,
        "type_uid": class_uid * 100 + activity,
        "severity_id": 1,
        "message": _summary(event_type, outcome, event),
        "metadata": metadata,
    }
    if activity_name is not None:
        doc["activity_name"] = activity_name[:256]
    if name == "detection_finding":
        doc.update(_finding(event_type, outcome, event, uid))
        metadata["profiles"] = ["security_control"]
    else:
        doc.update(_status(outcome))
        detail = _text(event.get("error_message"))
        if detail is not None:
            doc["status_detail"] = detail
    if name in ("authentication", "api_activity", "http_activity", "datastore_activity"):
        doc["src_endpoint"] = _endpoint(event)
        request = _request(event)
        if request:
            doc["http_request"] = request
    if name in ("api_activity", "datastore_activity"):
        doc["actor"] = {"user": _user(event)}
    if name == "authentication":
        doc["user"] = _user(event)
        doc["dst_endpoint"] = {"hostname": HOST}
    if name == "http_activity" and "http_request" not in doc:
        doc["http_request"] = {"http_method": "GET"}  # a websocket opens with a GET
    if name == "datastore_activity":
        table = _text(event.get("resource_type"))
        doc["table"] = {"name": table[:256] if table else "unknown"}
    if name == "api_activity":
        target = event.get("resource") or event.get("request_path") or ""
        doc["api"] = {"operation": f"{event.get('method') or '?'} {target}".strip()}
    if name in ("api_activity", "http_activity"):
        status = _whole(event.get("status_code"))
        if status is not None:
            doc["http_response"] = {"code": status}
    if name == "application_lifecycle":
        doc["app"] = dict(_PRODUCT)
    unmapped = {k: v for k, v in event.items() if isinstance(k, str) and k not in INTEGRITY_FIELDS}
    for key in INTEGRITY_ORDER:
        if key in event:
            unmapped[key] = event[key]
    doc[UNMAPPED] = unmapped  # the last field: the seal goes last in it
    return doc


def _finding(
    event_type: Any, outcome: Any, event: Mapping[str, Any], uid: str | None
) -> dict[str, Any]:
    if event_type == "injection_attempt":
        title = f"prompt injection: {event.get('rule_name') or 'unknown rule'}"
        level = event.get("severity")
        severity = _SEVERITY.get(level, 1) if isinstance(level, str) else 1
    else:
        title = f"tool access blocked: {event.get('tool_name') or 'unknown tool'}"
        severity = 3
    finding: dict[str, Any] = {"uid": uid or "unknown", "title": str(title)[:512]}
    desc = _text(event.get("blocked_reason"))
    if desc is not None:
        finding["desc"] = desc
    if outcome in ("logged", "warned"):
        action, disposition = 1, 1  # Allowed, Allowed: let through
    elif outcome == "requires_approval":
        action, disposition = 2, 14  # Denied, Delayed: held for a person to approve
    else:
        action, disposition = 2, 2  # Denied, Blocked
    return {
        "finding_info": finding,
        "severity_id": severity,
        "status_id": 1,  # New: a finding's own status
        "action_id": action,
        "disposition_id": disposition,
    }
