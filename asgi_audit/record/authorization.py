"""Why a request was allowed or refused: the decision a route records with
``audit.authorize(...)``, and the fields it puts on the request's record.

PURE: no event loop, no file. As Kubernetes annotates its audit events with the
authorizer's decision and reason, the middleware's ``api_access`` record (and a
websocket's ``websocket_connect``) carries what the request's code decided:

``authz_decision``
    ``allow`` or ``deny``. A request checked several times keeps its last
    ``deny``, else its last ``allow``: one refused check refuses the request.
``authz_reason``, ``authz_policy``
    why, and which rule or policy said so (redacted as any text is).
``authz_reason_missing``
    ``true`` on a 401 or 403 whose refusal no recorded reason explains: no
    decision was recorded, or a decision without a reason (or a blank one). A query for it finds
    the refusals an auditor cannot explain from the trail.
"""

from __future__ import annotations

from typing import Any, Final, Literal, NamedTuple

from .context import ContextCell, get_cell
from .events import check_choice

__all__ = (
    "AUTHZ_DECISIONS",
    "Authorization",
    "Authorizes",
    "AuthzDecision",
    "authorization_fields",
    "decided",
)

AuthzDecision = Literal["allow", "deny"]

#: The decisions ``authorize`` takes.
AUTHZ_DECISIONS: Final = ("allow", "deny")
#: The statuses that refuse a request, whose reason the record must give.
_REFUSALS: Final = frozenset({401, 403})


class Authorization(NamedTuple):
    """A recorded decision."""

    decision: str
    reason: str | None = None
    policy: str | None = None


def _text(argument: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"authorize {argument} must be a string, got {value!r}")


def decided(
    current: Authorization | None, decision: Any, reason: Any, policy: Any
) -> Authorization:
    """The request's decision once ``decision`` is recorded after ``current``.

    Raises:
        ValueError: a decision other than ``allow`` or ``deny``.
        TypeError: a reason or policy that is not a string.
    """
    check_choice("authorize", "decision", decision, AUTHZ_DECISIONS)
    made = Authorization(decision, _text("reason", reason), _text("policy", policy))
    if current is not None and current.decision == "deny" and decision == "allow":
        return current  # a refused check is not undone by a later allowed one
    return made


def authorization_fields(authorization: Authorization | None, status: Any) -> dict[str, Any]:
    """The fields a request's record gets from its decision and its status."""
    fields: dict[str, Any] = {}
    if authorization is not None:
        fields["authz_decision"] = authorization.decision
        if authorization.reason is not None:
            fields["authz_reason"] = authorization.reason
        if authorization.policy is not None:
            fields["authz_policy"] = authorization.policy
    if status in _REFUSALS and (authorization is None or not (authorization.reason or "").strip()):
        fields["authz_reason_missing"] = True
    return fields


class Authorizes:
    """``authorize``, on the Auditor, ``AuditContext`` and the sync facades."""

    __slots__ = ()

    def _bound_cell(self) -> ContextCell | None:
        """The request whose record the decision goes on (the ContextVar's, unless bound)."""
        return get_cell()

    def authorize(
        self, decision: AuthzDecision, *, reason: str | None = None, policy: str | None = None
    ) -> None:
        """Record why the current request is allowed or refused, on its own record.

        The middleware's ``api_access`` record of the request (``websocket_connect``
        for a websocket) gets ``authz_decision``, ``authz_reason`` and
        ``authz_policy``; a 401 or 403 with no reason recorded gets
        ``authz_reason_missing``. A ``deny`` makes the record's ``event_action``
        ``authz_fail`` whatever the status (a 404 that hides a record, say). A
        request checked several times keeps its last ``deny``, else its last
        ``allow``. It records nothing by itself and never waits: a request the
        middleware does not record (excluded, or policy level ``none``) keeps no
        decision. Tool code below a route calls it on the Auditor, which finds
        the request in its ContextVar.

        Raises:
            ValueError: a decision other than ``allow`` or ``deny``.
            TypeError: a reason or policy that is not a string.
            RuntimeError: no request to record it on (outside a request, or a
                context bound without one).
        """
        cell = self._bound_cell()
        if cell is None:
            raise RuntimeError(
                "authorize() needs a request: call it while AuditMiddleware handles one"
                " (a route, or code it calls), on the Auditor or Depends(audit_context)"
            )
        cell.authorization = decided(cell.authorization, decision, reason, policy)
