"""Standard names: the OWASP logging vocabulary's ``event_action``, and ``resource``.

PURE: no event loop, no file. The writer adds both to every event where one fits
(an ``event_action`` or ``resource`` the caller gave is kept as given):

``event_action`` (OWASP Application Logging Vocabulary, which SIEM rules key on):

=====================  ============================  =============================
event_type             outcome / status              event_action
=====================  ============================  =============================
login_attempt          success                       authn_login_success
login_attempt          failed                        authn_login_fail
login_attempt          rate_limited                  excess_rate_limit_exceeded
login_attempt          blocked                       authn_login_lock
session_created        any                           session_created
session_renewed        any                           session_renewed
session_expired        any                           session_expired
session_use_after_expire any                         session_use_after_expire
injection_attempt      any                           input_validation_fail
tool_path_blocked      any                           authz_fail
data_access            denied                        authz_fail
data_access            read, export (action)         sensitive_read
data_access            update (action)               sensitive_update
data_access            delete (action)               sensitive_delete
api_access             authz_decision deny           authz_fail
api_access             401, 403                      authz_fail
api_access             429                           excess_rate_limit_exceeded
websocket_connect      401, 403 (denied)             authz_fail
audit_started          any                           sys_monitor_enabled
audit_stopped          any                           sys_monitor_disabled
=====================  ============================  =============================

Nothing fits ``logout``, other API accesses or the library's own bookkeeping
events; they carry no ``event_action``.

``resource`` names what was acted on: the route template of an HTTP or websocket
request (``/items/{item_id}``, set by the middleware), else its path; the blocked
file path, else the tool name, of a blocked tool call; the tool an injection
was aimed at; the account (``user_id``) of a login or logout; the kind of
record (``resource_type``) of a data access, as a route template names the kind
of request (the ids stay in ``resource_id`` and ``ids``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ("DATA_ACTIONS", "LOGIN_ACTIONS", "OWASP_ACTIONS", "event_action", "resource")

#: login_attempt outcome -> event_action.
LOGIN_ACTIONS: Final[Mapping[str, str]] = {
    "success": "authn_login_success",
    "failed": "authn_login_fail",
    "rate_limited": "excess_rate_limit_exceeded",
    "blocked": "authn_login_lock",
}

#: data_access action -> event_action (OWASP's sensitive data changes; an export
#: is a read that leaves the system).
DATA_ACTIONS: Final[Mapping[str, str]] = {
    "read": "sensitive_read",
    "export": "sensitive_read",
    "update": "sensitive_update",
    "delete": "sensitive_delete",
}

# event_type -> event_action whatever the outcome.
_BY_TYPE: Final[Mapping[str, str]] = {
    "session_created": "session_created",
    "session_renewed": "session_renewed",
    "session_expired": "session_expired",
    "session_use_after_expire": "session_use_after_expire",
    "injection_attempt": "input_validation_fail",
    "tool_path_blocked": "authz_fail",
    "audit_started": "sys_monitor_enabled",
    "audit_stopped": "sys_monitor_disabled",
}

# HTTP status -> event_action, for api_access and websocket records.
_BY_STATUS: Final[Mapping[int, str]] = {
    401: "authz_fail",
    403: "authz_fail",
    429: "excess_rate_limit_exceeded",
}

#: Every event_action this module can give.
OWASP_ACTIONS: Final = frozenset(
    {*LOGIN_ACTIONS.values(), *DATA_ACTIONS.values(), *_BY_TYPE.values(), *_BY_STATUS.values()}
)

_HTTP_TYPES: Final = frozenset({"api_access", "websocket_connect", "websocket_close"})


def event_action(event_type: str, outcome: Any, fields: Mapping[str, Any]) -> str | None:
    """The OWASP ``event_action`` of an event, or None where none fits."""
    if event_type == "login_attempt":
        return LOGIN_ACTIONS.get(outcome) if isinstance(outcome, str) else None
    if event_type == "data_access":
        if outcome == "denied":
            return "authz_fail"
        done = fields.get("action")
        return DATA_ACTIONS.get(done) if isinstance(done, str) else None
    action = _BY_TYPE.get(event_type)
    if action is not None:
        return action
    if event_type in _HTTP_TYPES:
        if fields.get("authz_decision") == "deny":
            return "authz_fail"  # refused by the app's code, whatever the status said
        status = fields.get("status_code")
        if type(status) is int:
            return _BY_STATUS.get(status)
    return None


def resource(event_type: str, event: Mapping[str, Any]) -> Any:
    """The affected resource of an event, or None where the event names none."""
    if event_type in _HTTP_TYPES:
        return event.get("request_path")
    if event_type == "tool_path_blocked":
        return event.get("blocked_path") or event.get("tool_name")
    if event_type == "injection_attempt":
        return event.get("tool_name")
    if event_type in ("login_attempt", "logout"):
        return event.get("user_id")
    if event_type == "data_access":
        return event.get("resource_type")
    return None
