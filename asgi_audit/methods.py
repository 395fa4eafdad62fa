"""The typed event methods, written once for every front door.

API. :class:`EventMethods` holds ``login_attempt``, ``logout``, ``session_event``,
``injection_attempt``, ``tool_blocked``, ``data_access``, ``api_access`` and ``emit``; ``Auditor``,
``AuditContext`` and the sync facades inherit them and differ only in how a
captured event is submitted (awaited, or blocking for threads).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, Generic, Literal, TypeVar

from .record.access import DEFAULT_ID_BUDGET, access_events, access_fields, split_ids
from .record.authorization import Authorizes
from .record.capture import named_fields, own_fields
from .record.context import RequestContext, current_context
from .record.events import (
    API_AUDIT,
    AUTH,
    DATA_ACCESS,
    DATA_ACCESS_OUTCOMES,
    INJECTION,
    INJECTION_OUTCOMES,
    SEVERITIES,
    SEVERITY_RISK,
    TOOL_BLOCKED_OUTCOMES,
    TOOL_BLOCKS,
    UNKNOWN_OUTCOME,
    RawEvent,
    check_choice,
    new_raw,
    validate_category,
    validate_login_outcome,
)

__all__ = (
    "DataAccessOutcome",
    "DataAction",
    "EventMethods",
    "ExcInfo",
    "InjectionOutcome",
    "LoginOutcome",
    "Severity",
    "ToolBlockedOutcome",
    "outcome_for_status",
)

R = TypeVar("R")
# The closed sets, for the type checker; the methods check them at run time too
# (see asgi_audit.record.events).
LoginOutcome = Literal["success", "failed", "rate_limited", "blocked"]
ToolBlockedOutcome = Literal["blocked", "requires_approval"]
Severity = Literal["LOW", "WARNING", "MEDIUM", "HIGH", "CRITICAL"]
InjectionOutcome = Literal["logged", "warned", "blocked"]
DataAction = Literal["read", "export", "update", "delete"]
DataAccessOutcome = Literal["success", "denied", "failed"]
ExcInfo = BaseException | bool | None
RecordId = str | int


def outcome_for_status(status: int) -> str:
    """The outcome of an HTTP status.

    2xx/3xx ``success``, 401/403 ``denied``, 429 ``rate_limited``, other 4xx
    ``failed``, 5xx ``error``.
    """
    if status < 400:
        return "success"
    if status in (401, 403):
        return "denied"
    if status == 429:
        return "rate_limited"
    if status < 500:
        return "failed"
    return "error"


def _exception(exc_info: ExcInfo) -> BaseException | None:
    if exc_info is True:
        return sys.exc_info()[1]  # None outside an except block: no stack trace
    if isinstance(exc_info, BaseException):
        return exc_info
    return None


class EventMethods(Authorizes, Generic[R]):
    """The event methods shared by :class:`Auditor`, :class:`SyncAuditor` and
    ``AuditContext``: written once, returning an awaitable on the async classes
    and None on the sync ones.

    Every method takes extra keyword fields (``**fields``), which land in the
    event under their own names; an explicit ``ip_address``, ``user_agent``,
    ``session_id``, ``request_id``, ``request_path`` or ``agent_id`` overrides the
    request context. ``durable=True`` makes the call return only once its line
    is on stable storage (its batch fsynced: group commit); a failed fsync then
    raises ``AuditWriteError``.
    """

    __slots__ = ()

    def _submit(
        self,
        category: str,
        event_type: str,
        outcome: str | None,
        fields: dict[str, Any],
        exception: BaseException | None,
        durable: bool,
    ) -> R:
        # The capture: one clock read and the request context, now.
        return self._deliver(
            new_raw(
                RawEvent,
                (
                    category,
                    event_type,
                    outcome,
                    time.time_ns(),
                    self._bound_context(),
                    fields,
                    exception,
                    durable,
                ),
            )
        )

    def _bound_context(self) -> RequestContext | None:
        """The request context of the events (the ContextVar's, unless bound)."""
        return current_context()

    def _deliver(self, raw: RawEvent) -> R:
        """Hand a captured event to the writer's stream."""
        raise NotImplementedError

    def _deliver_all(self, raws: list[RawEvent]) -> R:
        """Hand several captured events to the writer's stream, in order."""
        raise NotImplementedError

    def _id_budget(self) -> tuple[int, int]:
        """The most ids one event holds, and the most bytes they may take."""
        return DEFAULT_ID_BUDGET

    def login_attempt(
        self,
        outcome: LoginOutcome,
        *,
        user_id: str | None = None,
        error_message: str | None = None,
        exc_info: ExcInfo = None,
        details: Mapping[str, Any] | None = None,
        durable: bool = False,
        **fields: Any,
    ) -> R:
        """A login attempt in ``auth-events.jsonl``.

        Args:
            outcome: ``success``, ``failed``, ``rate_limited`` or ``blocked``.
            user_id: who tried to log in, when known.
            error_message: why it failed.
            exc_info: an exception (or True for the one being handled) whose
                stack trace is recorded; nothing is recorded without one.
            details: any further structured data.

        Raises:
            ValueError: an unknown outcome.
        """
        validate_login_outcome(outcome)
        fields = named_fields(fields, {"user_id": user_id, "error_message": error_message}, details)
        return self._submit(AUTH, "login_attempt", outcome, fields, _exception(exc_info), durable)

    def logout(
        self,
        *,
        user_id: str | None = None,
        outcome: str = "success",
        details: Mapping[str, Any] | None = None,
        durable: bool = False,
        **fields: Any,
    ) -> R:
        """A logout in ``auth-events.jsonl``."""
        fields = named_fields(fields, {"user_id": user_id}, details)
        return self._submit(AUTH, "logout", outcome, fields, None, durable)

    def session_event(
        self,
        event_type: str,
        *,
        outcome: str | None = "success",
        user_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        durable: bool = False,
        **fields: Any,
    ) -> R:
        """A session event (``session_created``, ``session_expired``, ...) in ``auth-events.jsonl``.

        ``outcome=None`` is recorded as ``unknown``.

        Raises:
            ValueError: ``event_type`` is empty.
        """
        if not event_type or not isinstance(event_type, str):
            raise ValueError(f"Invalid session event type: {event_type!r}")
        fields = named_fields(fields, {"user_id": user_id}, details)
        return self._submit(AUTH, event_type, outcome, fields, None, durable)

    def injection_attempt(
        self,
        *,
        rule_name: str,
        severity: Severity,
        outcome: InjectionOutcome = "blocked",
        agent_id: str | None = None,
        tool_name: str | None = None,
        risk_score: float | None = None,
        matched_text: str | None = None,
        raw_input: str | None = None,
        details: Mapping[str, Any] | None = None,
        durable: bool = False,
        **fields: Any,
    ) -> R:
        """A prompt-injection detection in ``injection-events.jsonl``.

        Args:
            rule_name: the guard rule that matched (``ignore_previous_instructions``).
            severity: ``LOW``, ``WARNING``, ``MEDIUM``, ``HIGH`` or ``CRITICAL``.
            outcome: ``logged``, ``warned`` or ``blocked`` (the default).
            risk_score: defaults to the severity's base risk (CRITICAL 1.0, HIGH 0.7, ...).
            matched_text: what matched; redacted and capped in the writer.
            raw_input: the scanned input; redacted, then capped at 500 characters.

        Raises:
            ValueError: a severity or an outcome outside those sets (spelt
                exactly, case included).
        """
        check_choice("injection_attempt", "severity", severity, SEVERITIES)
        check_choice("injection_attempt", "outcome", outcome, INJECTION_OUTCOMES)
        if risk_score is None:
            risk_score = SEVERITY_RISK[severity]
        fields = named_fields(
            fields,
            {
                "agent_id": agent_id,
                "tool_name": tool_name,
                "rule_name": rule_name,
                "severity": severity,
                "risk_score": risk_score,
                "matched_text": matched_text,
                "raw_input": raw_input,
            },
            details,
        )
        return self._submit(INJECTION, "injection_attempt", outcome, fields, None, durable)

    def tool_blocked(
        self,
        *,
        tool_name: str,
        blocked_path: str | None = None,
        blocked_reason: str | None = None,
        outcome: ToolBlockedOutcome = "blocked",
        agent_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        durable: bool = False,
        **fields: Any,
    ) -> R:
        """A blocked tool or file access in ``tool-blocks.jsonl`` (``tool_path_blocked``).

        ``outcome`` is ``blocked`` (the default) or, for paths that need a human,
        ``requires_approval``.

        Raises:
            ValueError: any other outcome.
        """
        check_choice("tool_blocked", "outcome", outcome, TOOL_BLOCKED_OUTCOMES)
        fields = named_fields(
            fields,
            {
                "agent_id": agent_id,
                "tool_name": tool_name,
                "blocked_path": blocked_path,
                "blocked_reason": blocked_reason,
            },
            details,
        )
        return self._submit(TOOL_BLOCKS, "tool_path_blocked", outcome, fields, None, durable)

    def data_access(
        self,
        resource_type: str,
        resource_id: RecordId | None = None,
        *,
        ids: Iterable[RecordId] | None = None,
        action: DataAction = "read",
        record_count: int | None = None,
        purpose: str | None = None,
        outcome: DataAccessOutcome = "success",
        user_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        durable: bool = False,
        **fields: Any,
    ) -> R:
        """Who read, exported, changed or deleted which records, in ``data_access.jsonl``.

        The accounting of disclosures (GDPR article 30, HIPAA's 164.528), PCI DSS
        10.2.1.1 (every access to cardholder data) and ASVS V16: one event per
        access, with the request's user, address and request id from its context.

        Args:
            resource_type: what kind of record (``patient``, ``invoice``,
                ``card``); the event's ``resource``.
            resource_id: the one record acted on, when there is one.
            ids: the records acted on, when there are several (any iterable,
                copied at the call). Capped in the writer like any list
                (``max_items``); ``record_count`` keeps the whole count.
            action: ``read`` (the default), ``export``, ``update`` or ``delete``.
            record_count: how many records; defaults to the number of ``ids``,
                else 1 with a ``resource_id``, else absent.
            purpose: why (``treatment``, ``support ticket 4411``); redacted as
                any text is.
            outcome: ``success`` (the default), ``denied`` (the app refused it)
                or ``failed``.
            user_id: who, when the request's context does not say.

        Raises:
            ValueError: an empty ``resource_type``, an action or outcome outside
                its set, or a negative ``record_count``.
            TypeError: ``ids`` given as one string or bytes, or a
                ``record_count`` that is not an int.
        """
        check_choice("data_access", "outcome", outcome, DATA_ACCESS_OUTCOMES)
        named = access_fields(
            resource_type, resource_id, ids, action, record_count, purpose, user_id
        )
        id_list = named["ids"]
        parts = None if id_list is None else split_ids(id_list, *self._id_budget())
        if parts is None or len(parts) == 1:
            fields = named_fields(fields, named, details)
            return self._submit(DATA_ACCESS, "data_access", outcome, fields, None, durable)
        # More ids than one line holds whole: one event per part, linked by an
        # access_id, each with the whole record_count. Only the last waits for
        # durability: the stream's events are synced in order.
        context, now = self._bound_context(), time.time_ns()
        raws = access_events(parts, named, fields, details, outcome, context, now, durable)
        return self._deliver_all(raws)

    def api_access(
        self,
        *,
        method: str | None = None,
        request_path: str | None = None,
        status_code: int | None = None,
        duration_ms: float | None = None,
        outcome: str | None = None,
        details: Mapping[str, Any] | None = None,
        durable: bool = False,
        **fields: Any,
    ) -> R:
        """An API access in ``api-audit.jsonl``.

        The outcome follows the status when not given (``outcome_for_status``),
        and is ``unknown`` without either.
        """
        if outcome is None and status_code is not None:
            outcome = outcome_for_status(status_code)
        fields = named_fields(
            fields,
            {
                "method": method,
                "request_path": request_path,
                "status_code": status_code,
                "duration_ms": duration_ms,
            },
            details,
        )
        return self._submit(API_AUDIT, "api_access", outcome, fields, None, durable)

    def emit(
        self,
        category: str,
        event_type: str,
        *,
        outcome: str | None = UNKNOWN_OUTCOME,
        exc_info: ExcInfo = None,
        durable: bool = False,
        **fields: Any,
    ) -> R:
        """Any event: ``category`` picks the file (``<category>.jsonl`` for your own).

        ``outcome`` is ``unknown`` unless given (None too): every event has one.

        Raises:
            ValueError: the category cannot name a file (separators, dots, ...),
                or ``event_type`` is empty.
        """
        validate_category(category)
        if not event_type or not isinstance(event_type, str):
            raise ValueError(f"Invalid event type: {event_type!r}")
        return self._submit(
            category, event_type, outcome, own_fields(fields), _exception(exc_info), durable
        )
