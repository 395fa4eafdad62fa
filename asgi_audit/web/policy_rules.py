"""The rules of an audit policy: their fields, what they decide, and their checks.

PURE: no I/O, no event loop. :mod:`asgi_audit.web.policy` builds an
:class:`~asgi_audit.web.policy.AuditPolicy` from these: each :class:`Rule` is
checked and compiled once (:func:`compile_rule`) into a matcher that gives its
:class:`Decision`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, fields, replace
from typing import Any, Final, Literal

from ..record.events import validate_category

__all__ = (
    "DEFAULT_HEADERS",
    "HTTP_TOKEN",
    "LEVELS",
    "RANK",
    "REQUEST_LEVELS",
    "Decision",
    "Level",
    "Matcher",
    "PolicyError",
    "Rule",
    "body_cap",
    "compile_rule",
    "decision",
    "header_names",
    "list_of",
)

Level = Literal["none", "metadata", "request", "request_response"]

#: The levels, from the least recorded to the most.
LEVELS: Final[tuple[Level, ...]] = ("none", "metadata", "request", "request_response")
RANK: Final[Mapping[str, int]] = {level: rank for rank, level in enumerate(LEVELS)}
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
        fail_closed: the request's arrival is recorded durably before the app
            runs, or the client gets a 503 and the app never runs.

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
    fail_closed: bool = False


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
        fail_closed: whether the request's arrival must be on disk before the
            app runs (see :attr:`Rule.fail_closed`).
    """

    level: Level
    rule: str | None
    headers: frozenset[str]
    max_body_bytes: int
    fail_closed: bool = False

    @property
    def records(self) -> bool:
        """Whether the request is recorded at all (level above ``none``)."""
        return self.level != "none"

    def at_least(self, level: Level) -> bool:
        """Whether this decision records at least as much as ``level``."""
        if level not in RANK:
            raise ValueError(f"Invalid audit level {level!r} (expected one of {_EXPECTED_LEVELS})")
        return RANK[self.level] >= RANK[level]


def decision(
    level: Level, rule: str | None, headers: frozenset[str], cap: int, fail_closed: bool = False
) -> Decision:
    return Decision(
        level=level,
        rule=rule,
        headers=headers if RANK[level] >= RANK["request"] else _NOTHING,
        max_body_bytes=cap if level == "request_response" else 0,
        fail_closed=fail_closed,
    )


@dataclass(frozen=True, slots=True)
class Matcher:
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


def list_of(where: str, field: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)):
        raise PolicyError(f"{where}: {field} must be a list, not the string {value!r}")
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise PolicyError(f"{where}: {field} must be a list, got {value!r}")
    return tuple(value)


def _names(where: str, field: str, value: Any, token: bool = False) -> tuple[str, ...]:
    items = list_of(where, field, value)
    for item in items:
        if not isinstance(item, str) or not item or (token and not HTTP_TOKEN.match(item)):
            expected = "an HTTP token" if token else "a non-empty string"
            raise PolicyError(f"{where}: invalid {field[:-1]} {item!r} (expected {expected})")
    return items


def header_names(where: str, value: Any) -> frozenset[str]:
    names = frozenset(name.lower() for name in _names(where, "headers", value, token=True))
    return _ALL if "*" in names else names


def body_cap(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(f"{where}: invalid max_body_bytes {value!r} (expected an integer >= 0)")
    return value


def _paths(where: str, value: Any) -> tuple[re.Pattern[str], ...] | None:
    globs: list[str] = []
    regexes: list[re.Pattern[str]] = []
    for pattern in list_of(where, "paths", value):
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


def compile_rule(index: int, raw: Any, headers: frozenset[str], cap: int) -> tuple[Rule, Matcher]:
    where = f"audit policy rule #{index}"
    name = raw.get("name") if isinstance(raw, Mapping) else getattr(raw, "name", None)
    if not isinstance(raw, (Rule, Mapping)):
        raise PolicyError(f"{where}: expected a Rule or a mapping, got {raw!r}")
    if isinstance(name, str) and name:
        where += f" ({name!r})"
    elif name is not None:
        raise PolicyError(f"{where}: invalid name {name!r} (expected a non-empty string)")
    rule = _as_rule(where, raw)
    if not isinstance(rule.level, str) or rule.level not in RANK:
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
        headers = header_names(where, rule.headers)
        own_headers = tuple(sorted(headers))
    if rule.max_body_bytes is not None:
        cap = body_cap(where, rule.max_body_bytes)
    if not isinstance(rule.fail_closed, bool):
        raise PolicyError(
            f"{where}: invalid fail_closed {rule.fail_closed!r} (expected True or False)"
        )
    if rule.fail_closed and rule.level == "none":
        raise PolicyError(
            f"{where}: fail_closed needs a level that records (a request at level none"
            " has no record to wait for)"
        )
    normal = replace(rule, paths=tuple(rule.paths), methods=methods, categories=categories)
    normal = replace(normal, users=users, roles=roles, headers=own_headers)
    matcher = Matcher(
        decision=decision(rule.level, name or f"#{index}", headers, cap, rule.fail_closed),
        paths=paths,
        methods=frozenset(methods) if methods and "*" not in methods else None,
        categories=frozenset(categories) or None,
        users=frozenset(users) or None,
        roles=frozenset(roles) or None,
    )
    return normal, matcher
