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

Rules are numbered from 1 in error messages and in :attr:`Decision.rule`
(``#1`` is the first rule): ``audit policy rule #3 ('admin bodies'): invalid
level 'full' (expected one of none, metadata, request, request_response)``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, fields, replace
from typing import Any, Final, Literal

from ..record.events import API_AUDIT, validate_category

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

Level = Literal["none", "metadata", "request", "request_response"]

#: The levels, from the least recorded to the most.
LEVELS: Final[tuple[Level, ...]] = ("none", "metadata", "request", "request_response")
_RANK: Final[Mapping[str, int]] = {level: rank for rank, level in enumerate(LEVELS)}
#: The levels that record the request's query string and headers.
REQUEST_LEVELS: Final[frozenset[str]] = frozenset({"request", "request_response"})
_EXPECTED_LEVELS: Final = ", ".join(LEVELS)

#: Request headers recorded at level ``request`` and above unless a rule or the
#: policy names others. Nothing that carries a credential (no ``authorization``,
#: no ``cookie``).
DEFAULT_HEADERS: Final[frozenset[str]] = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "content-type",
        "content-length",
        "host",
        "origin",
        "referer",
        "user-agent",
        "x-request-id",
        "x-forwarded-for",
        "x-forwarded-proto",
        "forwarded",
    }
)

# An HTTP token (RFC 9110): what a method or a header name may be made of.
#: An HTTP token (RFC 9110): what a header or cookie name may be made of.
HTTP_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_NOTHING: Final[frozenset[str]] = frozenset()
_ALL: Final = frozenset({"*"})


class PolicyError(ValueError):
    """An audit policy that cannot be used; the message names the rule and the value."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of an :class:`AuditPolicy`; an empty selector matches anything.

    Attributes:
        level: the level of the requests this rule matches.
        paths: globs, ``re:`` regexes or compiled patterns, any of which must
            match the whole path.
        methods: HTTP methods, any case (``"*"`` is any method).
        categories: event categories (``api_audit``, ``auth``, custom ones).
        users: authenticated user ids, matched exactly.
        roles: roles, of which the user must hold at least one.
        name: names the rule in error messages and in :attr:`Decision.rule`.
        headers: request headers recorded from level ``request`` (``"*"`` for
            all; None for the policy's allowlist).
        max_body_bytes: the body cap at level ``request_response`` (None for
            the policy's).

    A rule with ``users`` or ``roles`` never matches a request whose user, or
    whose roles, are unknown.
    """

    level: Level
    _: KW_ONLY
    paths: Sequence[str | re.Pattern[str]] = ()
    methods: Sequence[str] = ()
    categories: Sequence[str] = ()
    users: Sequence[str] = ()
    roles: Sequence[str] = ()
    name: str | None = None
    headers: Sequence[str] | None = None
    max_body_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to record of one request.

    Attributes:
        level: the level.
        rule: the deciding rule's name, ``"#<n>"`` for the unnamed n-th rule
            (from 1), or None when no rule matched and the default applied.
        headers: lower-case names of the request headers to record, ``{"*"}``
            for all; empty below level ``request``.
        max_body_bytes: the cap on each captured body; 0 below ``request_response``.
    """

    level: Level
    rule: str | None
    headers: frozenset[str]
    max_body_bytes: int

    @property
    def records(self) -> bool:
        """Whether the request is recorded at all (level above ``none``)."""
        return self.level != "none"

    def at_least(self, level: Level) -> bool:
        """Whether this decision records at least as much as ``level``."""
        if level not in _RANK:
            raise ValueError(f"Invalid audit level {level!r} (expected one of {_EXPECTED_LEVELS})")
        return _RANK[self.level] >= _RANK[level]


def _decision(level: Level, rule: str | None, headers: frozenset[str], cap: int) -> Decision:
    return Decision(
        level=level,
        rule=rule,
        headers=headers if _RANK[level] >= _RANK["request"] else _NOTHING,
        max_body_bytes=cap if level == "request_response" else 0,
    )


@dataclass(frozen=True, slots=True)
class _Matcher:
    """A rule compiled: None for a selector that matches anything."""

    decision: Decision
    paths: tuple[re.Pattern[str], ...] | None
    methods: frozenset[str] | None
    categories: frozenset[str] | None
    users: frozenset[str] | None
    roles: frozenset[str] | None

    def matches(self, path: str, method: str, category: str) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        if self.categories is not None and category not in self.categories:
            return False
        if self.paths is None:
            return True
        return any(pattern.fullmatch(path) is not None for pattern in self.paths)


def _items(where: str, field: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)):
        raise PolicyError(f"{where}: {field} must be a list, not the string {value!r}")
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise PolicyError(f"{where}: {field} must be a list, got {value!r}")
    return tuple(value)


def _names(where: str, field: str, value: Any, token: bool = False) -> tuple[str, ...]:
    items = _items(where, field, value)
    for item in items:
        if not isinstance(item, str) or not item or (token and not HTTP_TOKEN.match(item)):
            expected = "an HTTP token" if token else "a non-empty string"
            raise PolicyError(f"{where}: invalid {field[:-1]} {item!r} (expected {expected})")
    return items


def _headers(where: str, value: Any) -> frozenset[str]:
    names = frozenset(name.lower() for name in _names(where, "headers", value, token=True))
    return _ALL if "*" in names else names


def _cap(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(f"{where}: invalid max_body_bytes {value!r} (expected an integer >= 0)")
    return value


def _paths(where: str, value: Any) -> tuple[re.Pattern[str], ...] | None:
    globs: list[str] = []
    regexes: list[re.Pattern[str]] = []
    for pattern in _items(where, "paths", value):
        if isinstance(pattern, re.Pattern):
            if not isinstance(pattern.pattern, str) or not pattern.pattern:
                raise PolicyError(f"{where}: invalid path pattern {pattern!r} (empty or bytes)")
            regexes.append(pattern)
        elif not isinstance(pattern, str) or pattern in ("", "re:"):
            raise PolicyError(f"{where}: invalid path pattern {pattern!r} (empty or not a string)")
        elif pattern.startswith("re:"):
            try:
                regexes.append(re.compile(pattern[3:]))
            except re.error as exc:
                raise PolicyError(f"{where}: invalid regex {pattern!r} ({exc})") from None
        elif not pattern.startswith(("/", "*")):
            raise PolicyError(
                f"{where}: invalid path pattern {pattern!r} (a glob starts with '/' or '*')"
            )
        else:
            globs.append(fnmatch.translate(pattern))
    if globs:  # one regex for all the globs, tried first
        regexes.insert(0, re.compile("|".join(f"(?:{glob})" for glob in globs)))
    return tuple(regexes) or None


def _as_rule(where: str, raw: Rule | Mapping[str, Any]) -> Rule:
    if isinstance(raw, Rule):
        return raw
    known = {f.name for f in fields(Rule)}
    unknown = sorted(repr(key) for key in raw if key not in known)
    if unknown:
        raise PolicyError(
            f"{where}: unknown key {', '.join(unknown)} (expected {', '.join(sorted(known))})"
        )
    if "level" not in raw:
        raise PolicyError(f"{where}: missing level")
    return Rule(**raw)


def _compile(index: int, raw: Any, headers: frozenset[str], cap: int) -> tuple[Rule, _Matcher]:
    where = f"audit policy rule #{index}"
    name = raw.get("name") if isinstance(raw, Mapping) else getattr(raw, "name", None)
    if not isinstance(raw, (Rule, Mapping)):
        raise PolicyError(f"{where}: expected a Rule or a mapping, got {raw!r}")
    if isinstance(name, str) and name:
        where += f" ({name!r})"
    elif name is not None:
        raise PolicyError(f"{where}: invalid name {name!r} (expected a non-empty string)")
    rule = _as_rule(where, raw)
    if not isinstance(rule.level, str) or rule.level not in _RANK:
        raise PolicyError(
            f"{where}: invalid level {rule.level!r} (expected one of {_EXPECTED_LEVELS})"
        )
    paths = _paths(where, rule.paths)
    methods = tuple(method.upper() for method in _names(where, "methods", rule.methods, True))
    categories = _names(where, "categories", rule.categories)
    for category in categories:
        try:
            validate_category(category)
        except ValueError as exc:
            reason = str(exc).replace("Invalid audit category:", "invalid category")
            raise PolicyError(f"{where}: {reason}") from None
    users = _names(where, "users", rule.users)
    roles = _names(where, "roles", rule.roles)
    own_headers = None
    if rule.headers is not None:
        headers = _headers(where, rule.headers)
        own_headers = tuple(sorted(headers))
    if rule.max_body_bytes is not None:
        cap = _cap(where, rule.max_body_bytes)
    normal = replace(rule, paths=tuple(rule.paths), methods=methods, categories=categories)
    normal = replace(normal, users=users, roles=roles, headers=own_headers)
    matcher = _Matcher(
        decision=_decision(rule.level, name or f"#{index}", headers, cap),
        paths=paths,
        methods=frozenset(methods) if methods and "*" not in methods else None,
        categories=frozenset(categories) or None,
        users=frozenset(users) or None,
        roles=frozenset(roles) or None,
    )
    return normal, matcher


class AuditPolicy:
    """An ordered list of rules; the first that matches a request sets its level.

    Args:
        rules: :class:`Rule` objects, or mappings of a Rule's fields (from a
            config file: ``{"level": "none", "paths": ["/health"]}``).
        default_level: the level of a request no rule matches (default
            ``metadata``; never ``request_response``: bodies need a rule).
        headers: the request headers recorded by default from level ``request``.
        max_body_bytes: the default cap on each captured body.

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
    ) -> None:
        where = "audit policy"
        if default_level not in ("none", "metadata", "request"):
            raise PolicyError(
                f"{where}: invalid default_level {default_level!r} (expected none, metadata"
                " or request; capture bodies with a request_response rule)"
            )
        self._headers = _headers(where, headers)
        self._cap = _cap(where, max_body_bytes)
        compiled = [
            _compile(index, raw, self._headers, self._cap)
            for index, raw in enumerate(_items(where, "rules", rules), start=1)
        ]
        self._rules = tuple(rule for rule, _ in compiled)
        self._matchers = tuple(matcher for _, matcher in compiled)
        self._default = _decision(default_level, None, self._headers, self._cap)
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
        top = max(_RANK[d.level] for d in candidates)
        best = [d for d in candidates if _RANK[d.level] == top]
        if len(best) == 1:
            return best[0]
        headers = frozenset[str]().union(*(d.headers for d in best))
        return Decision(
            level=best[0].level,
            rule=best[0].rule,
            headers=_ALL if "*" in headers else headers,
            max_body_bytes=max(d.max_body_bytes for d in best),
        )

    def __repr__(self) -> str:
        rules = ", ".join(f"{m.decision.rule!r}: {m.decision.level}" for m in self._matchers)
        headers = "DEFAULT_HEADERS" if self._headers == DEFAULT_HEADERS else sorted(self._headers)
        return (
            f"AuditPolicy([{rules}], default_level={self._default.level!r},"
            f" headers={headers}, max_body_bytes={self._cap})"
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
