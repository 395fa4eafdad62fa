"""Audit policy: which requests are recorded, and how much of each.

PURE: no I/O, no event loop. An :class:`AuditPolicy` is an ordered list of
:class:`Rule`; as in a Kubernetes API-server audit policy, the **first rule
that matches** a request sets its level, and a request no rule matches gets the
policy's ``default_level``. Everything is checked and compiled once, when the
policy is built; deciding is a few set look-ups and, for a rule with paths, one
regex for all its globs plus one per regular expression.

Levels, each recording everything the one before it does:

* ``none``: the request is not recorded.
* ``metadata``: the request's metadata fields: method, path, status, duration,
  client IP, user agent and the request, session, user and agent ids.
* ``request``: plus the query string (redacted) and the request headers of an
  allowlist (:data:`DEFAULT_HEADERS` unless the rule or the policy names others).
* ``request_response``: plus the request body, when it is JSON or a form, and
  the response body, both redacted and cut at ``max_body_bytes``. Bodies are
  only ever captured under a *rule* at this level: such a rule is the route's
  opt-in, so ``default_level`` cannot be ``request_response``.

Paths are matched against the whole path. A string starting with ``/`` or
``*`` is a glob with :func:`fnmatch.fnmatchcase` semantics, as the middleware's
include and exclude patterns: note that ``*`` also crosses ``/`` (``/admin/*``
matches ``/admin/users/7``, ``*.json`` matches ``/a/b.json``). A string
starting with ``re:``, or a compiled :class:`re.Pattern`, is a regular
expression that must match the whole path (``re:/v[12]/.*``).

A rule with ``fail_closed=True`` makes its requests **fail closed**: the
middleware writes the request's ``request_received`` record durably (written and
fsynced) before the app runs, and answers 503 without running the app when it
cannot within the policy's ``fail_closed_timeout`` (see
:mod:`asgi_audit.web.failclosed`). As Kubernetes' blocking-strict audit mode
and auditd's ``disk_full_action=halt``: the record matters more than the request.

Rules are numbered from 1 in error messages and in :attr:`Decision.rule`
(``#1`` is the first rule): ``audit policy rule #3 ('admin bodies'): invalid
level 'full' (expected one of none, metadata, request, request_response)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Final

from ..record.events import API_AUDIT
from .policy_rules import (
    DEFAULT_HEADERS,
    HTTP_TOKEN,
    LEVELS,
    RANK,
    REQUEST_LEVELS,
    Decision,
    Level,
    PolicyError,
    Rule,
    body_cap,
    compile_rule,
    decision,
    header_names,
    list_of,
)

__all__ = (
    "DEFAULT_HEADERS",
    "DEFAULT_POLICY",
    "HTTP_TOKEN",
    "LEVELS",
    "REQUEST_LEVELS",
    "AuditPolicy",
    "Decision",
    "Level",
    "PolicyError",
    "Rule",
)

_ALL: Final = frozenset({"*"})


class AuditPolicy:
    """An ordered list of rules; the first that matches a request sets its level.

    Args:
        rules: :class:`Rule` objects, or mappings of a Rule's fields (from a
            config file: ``{"level": "none", "paths": ["/health"]}``).
        default_level: the level of a request no rule matches (default
            ``metadata``; never ``request_response``: bodies need a rule).
        headers: the request headers recorded by default from level ``request``.
        max_body_bytes: the default cap on each captured body.
        fail_closed_timeout: how long a fail-closed request waits for its arrival
            record to be on disk before it is refused with a 503 (seconds; 2 by
            default, more than 0 and at most 300).

    Raises:
        PolicyError: a rule or an option cannot be used; the message names the
            rule (numbered from 1) and quotes the value.
    """

    def __init__(
        self,
        rules: Iterable[Rule | Mapping[str, Any]] = (),
        *,
        default_level: Level = "metadata",
        headers: Iterable[str] = DEFAULT_HEADERS,
        max_body_bytes: int = 4096,
        fail_closed_timeout: float = 2.0,
    ) -> None:
        where = "audit policy"
        if (
            isinstance(fail_closed_timeout, bool)
            or not isinstance(fail_closed_timeout, int | float)
            or not 0 < fail_closed_timeout <= 300
        ):
            raise PolicyError(
                f"{where}: invalid fail_closed_timeout {fail_closed_timeout!r}"
                " (expected seconds, more than 0 and at most 300)"
            )
        self._fail_closed_timeout = float(fail_closed_timeout)
        if default_level not in ("none", "metadata", "request"):
            raise PolicyError(
                f"{where}: invalid default_level {default_level!r} (expected none, metadata"
                " or request; capture bodies with a request_response rule)"
            )
        self._headers = header_names(where, headers)
        self._cap = body_cap(where, max_body_bytes)
        compiled = [
            compile_rule(index, raw, self._headers, self._cap)
            for index, raw in enumerate(list_of(where, "rules", rules), start=1)
        ]
        self._rules = tuple(rule for rule, _ in compiled)
        self._matchers = tuple(matcher for _, matcher in compiled)
        self._default = decision(default_level, None, self._headers, self._cap)
        self._needs_identity = any(m.users or m.roles for m in self._matchers)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, checked and normalised (tuples, upper-case methods, lower-case headers)."""
        return self._rules

    @property
    def default_level(self) -> Level:
        """The level of a request no rule matches."""
        return self._default.level

    @property
    def fail_closed_timeout(self) -> float:
        """Seconds a fail-closed request waits for its arrival record to be on disk."""
        return self._fail_closed_timeout

    @property
    def fails_closed(self) -> bool:
        """Whether any rule fails closed."""
        return any(m.decision.fail_closed for m in self._matchers)

    @property
    def needs_identity(self) -> bool:
        """Whether a rule matches on users or roles: decide again once the user is known."""
        return self._needs_identity

    def decide(
        self,
        *,
        path: str,
        method: str,
        category: str = API_AUDIT,
        user_id: str | None = None,
        roles: Iterable[str] = (),
    ) -> Decision:
        """The decision of the first rule that matches the request, else the default."""
        if isinstance(roles, str):
            raise TypeError(f"roles takes a list of roles, not the string {roles!r}")
        if not self._matchers:
            return self._default
        method = method.upper()
        held: frozenset[str] | None = None
        for m in self._matchers:
            if m.users is not None and (user_id is None or user_id not in m.users):
                continue
            if m.roles is not None:
                if held is None:
                    held = frozenset(roles)
                if m.roles.isdisjoint(held):
                    continue
            if m.matches(path, method, category):
                return m.decision
        return self._default

    def highest(self, *, path: str, method: str, category: str = API_AUDIT) -> Decision:
        """The most this request could be recorded at, whoever its user turns out to be.

        For the start of a request, before the user is known: rules with
        ``users`` or ``roles`` count as possibly matching, and the first
        matching rule without them ends the search (no later rule can decide).
        Of the candidates at the highest level, the first gives ``rule``; the
        headers are their union and ``max_body_bytes`` their largest, so
        whatever :meth:`decide` says at the end of the request was captured.
        The request fails closed if any candidate does.
        """
        method = method.upper()
        candidates: list[Decision] = []
        for m in self._matchers:
            if m.matches(path, method, category):
                candidates.append(m.decision)
                if m.users is None and m.roles is None:
                    break
        else:
            candidates.append(self._default)
        top = max(RANK[d.level] for d in candidates)
        best = [d for d in candidates if RANK[d.level] == top]
        fail_closed = any(d.fail_closed for d in candidates)
        if len(best) == 1:
            found = best[0]
            return found if found.fail_closed == fail_closed else replace(found, fail_closed=True)
        headers = frozenset[str]().union(*(d.headers for d in best))
        return Decision(
            level=best[0].level,
            rule=best[0].rule,
            headers=_ALL if "*" in headers else headers,
            max_body_bytes=max(d.max_body_bytes for d in best),
            fail_closed=fail_closed,
        )

    def __repr__(self) -> str:
        rules = ", ".join(f"{m.decision.rule!r}: {m.decision.level}" for m in self._matchers)
        headers = "DEFAULT_HEADERS" if self._headers == DEFAULT_HEADERS else sorted(self._headers)
        closed = "".join(
            f", {m.decision.rule!r} fails closed" for m in self._matchers if m.decision.fail_closed
        )
        return (
            f"AuditPolicy([{rules}{closed}], default_level={self._default.level!r},"
            f" headers={headers}, max_body_bytes={self._cap},"
            f" fail_closed_timeout={self._fail_closed_timeout:g})"
        )


#: The safe default: health checks and scrapers (the middleware's default
#: exclusions) not recorded, everything else at ``metadata``.
DEFAULT_POLICY: Final[AuditPolicy] = AuditPolicy(
    [
        Rule(
            "none",
            paths=("/health", "/healthz", "/livez", "/readyz", "/ping", "/metrics", "/favicon.ico"),
            name="health checks",
        )
    ]
)
