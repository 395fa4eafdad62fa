"""The demo's pure checks: the login rate limiter, the injection rules, the path checker.

:class:`LoginRateLimiter` counts failed logins per client in a sliding window,
:func:`scan_arguments` runs :data:`INJECTION_RULES` over a tool call's string
arguments, and :func:`check_path` decides whether an agent may touch a path.

They live apart from ``demo/app.py`` because they hold no I/O: no auditor, no
FastAPI, no server. ``tests/test_demo.py`` tests them directly, without starting
the app; ``demo/app.py`` wires them into its routes and records their decisions.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Final, Literal

__all__ = (
    "AGENT_HOME",
    "INJECTION_RULES",
    "SEVERITY_OUTCOMES",
    "WORKSPACE",
    "Finding",
    "InjectionRule",
    "LoginRateLimiter",
    "PathDecision",
    "Severity",
    "Verdict",
    "check_path",
    "scan_arguments",
)


# --------------------------------------------------------------------------- login


class LoginRateLimiter:
    """Failed logins per client in a sliding window.

    After ``max_failures`` failures within ``window_seconds`` a client is limited
    until the oldest of them leaves the window; a successful login clears its
    record. Attempts refused while limited are not failures, so hammering does
    not extend the lock. The state lives in this process only (a real
    deployment with several workers keeps it in a shared store).

    Args:
        max_failures: failures allowed in the window (default 5).
        window_seconds: the window (default 15 minutes).
        clock: a monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_seconds: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {max_failures!r}")
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive, got {window_seconds!r}")
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.get(client)
        if failures is None:
            return deque()
        horizon = self._clock() - self.window_seconds
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[client]
        return failures

    def is_limited(self, client: str) -> bool:
        """Whether ``client`` has used up its failures in the current window."""
        return len(self._recent(client)) >= self.max_failures

    def retry_after(self, client: str) -> int:
        """Whole seconds until ``client`` may try again (0 when not limited)."""
        failures = self._recent(client)
        if len(failures) < self.max_failures:
            return 0
        oldest = failures[-self.max_failures]
        return max(1, int(oldest + self.window_seconds - self._clock() + 0.999))

    def record_failure(self, client: str) -> None:
        """Count a failed login of ``client`` now."""
        self._recent(client)
        self._failures.setdefault(client, deque()).append(self._clock())

    def reset(self, client: str) -> None:
        """Forget ``client``'s failures (after a successful login)."""
        self._failures.pop(client, None)


# ---------------------------------------------------------------- injection guard

Severity = Literal["LOW", "WARNING", "MEDIUM", "HIGH", "CRITICAL"]
#: What the guard did: ``injection_attempt``'s outcomes.
GuardOutcome = Literal["logged", "warned", "blocked"]

#: What the guard does per severity: HIGH and CRITICAL stop the call; the others
#: let it proceed and are recorded (``warned`` for MEDIUM/WARNING, ``logged`` for LOW).
SEVERITY_OUTCOMES: Final[Mapping[Severity, GuardOutcome]] = {
    "LOW": "logged",
    "WARNING": "warned",
    "MEDIUM": "warned",
    "HIGH": "blocked",
    "CRITICAL": "blocked",
}


@dataclass(frozen=True, slots=True)
class InjectionRule:
    """One guard rule: a name (recorded as ``rule_name``), a pattern and a severity."""

    name: str
    pattern: re.Pattern[str]
    severity: Severity


def _rule(name: str, pattern: str, severity: Severity) -> InjectionRule:
    return InjectionRule(name, re.compile(pattern, re.IGNORECASE), severity)


#: The guard's rules, scanned in this order. Small on purpose: a demo of the
#: records, not a claim of coverage.
INJECTION_RULES: Final[tuple[InjectionRule, ...]] = (
    _rule(
        "ignore_previous_instructions",
        r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:the\s+|your\s+)?"
        r"(?:previous|prior|above|earlier)\s+(?:instructions|prompts?|rules)\b",
        "CRITICAL",
    ),
    _rule(
        "exfiltrate_secrets",
        r"\b(?:send|post|upload|exfiltrate|email|forward)\b[^.\n]{0,40}?"
        r"\b(?:passwords?|credentials|api[ _-]?keys?|secrets?|tokens?)\b",
        "HIGH",
    ),
    _rule(
        "reveal_system_prompt",
        r"\b(?:reveal|show|print|repeat|output|leak)\s+(?:me\s+)?(?:your|the)\s+"
        r"(?:system|hidden|initial)\s+(?:prompt|instructions)\b",
        "HIGH",
    ),
    _rule(
        "role_override",
        r"\b(?:you\s+are\s+now|from\s+now\s+on\s+you\s+are|pretend\s+(?:to\s+be|you\s+are))\b",
        "MEDIUM",
    ),
    _rule("developer_mode", r"\b(?:developer|debug|god|jailbreak)\s+mode\b", "WARNING"),
    _rule("chat_markup", r"<\|?\s*/?\s*(?:im_start|im_end|system|assistant)\s*\|?>", "LOW"),
)


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that matched one string argument of a tool call."""

    rule: InjectionRule
    argument: str
    matched_text: str
    text: str

    @property
    def outcome(self) -> GuardOutcome:
        """``blocked``, ``warned`` or ``logged``, from the rule's severity."""
        return SEVERITY_OUTCOMES[self.rule.severity]


def _strings(arguments: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    # Every string in the arguments, nested ones too, in order, with a path naming
    # it (``content``, ``files[2].body``). A stack, not recursion: any depth is fine.
    stack: list[tuple[str, Any]] = [(str(k), v) for k, v in arguments.items()][::-1]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, Mapping):
            stack += [(f"{path}.{k}", v) for k, v in value.items()][::-1]
        elif isinstance(value, (list, tuple)):
            stack += [(f"{path}[{i}]", v) for i, v in enumerate(value)][::-1]


def scan_arguments(
    arguments: Mapping[str, Any], rules: tuple[InjectionRule, ...] = INJECTION_RULES
) -> list[Finding]:
    """Every rule matching a string argument (first match per rule and string), in order."""
    findings: list[Finding] = []
    for path, text in _strings(arguments):
        for rule in rules:
            match = rule.pattern.search(text)
            if match is not None:
                findings.append(Finding(rule, path, match.group(0), text))
    return findings


# ------------------------------------------------------------- path safety checker

Verdict = Literal["allow", "blocked", "requires_approval"]

#: The agent's home, for ``~`` in paths.
AGENT_HOME: Final = "/home/agent"
#: The agent's workspace: relative paths resolve here.
WORKSPACE: Final = "/workspace"

_SSH_KEY_NAMES: Final = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")
_DB_SUFFIXES: Final = (".db", ".sqlite", ".sqlite3", ".db-wal", ".db-shm", ".db-journal")
_SYSTEM_PREFIXES: Final = ("/etc/", "/root/", "/proc/", "/sys/", "/dev/", "/boot/", "/var/")


@dataclass(frozen=True, slots=True)
class PathDecision:
    """The checker's answer for one path.

    ``path`` is the normalised path: absolute, ``~`` expanded, ``..`` resolved.
    ``reason`` says why a path is not simply allowed (recorded as ``blocked_reason``).
    """

    verdict: Verdict
    path: str
    reason: str | None = None


def check_path(path: str) -> PathDecision:
    """Decide whether an agent may touch ``path``.

    SSH keys and anything under ``.ssh/`` are ``blocked``, as is a relative path
    that climbs out of the workspace; ``.env`` files, SQLite databases, system
    paths (``/etc/shadow``, ``/root/...``) and anything else outside the workspace
    ``requires_approval``; the rest of the workspace is allowed. Purely textual:
    the demo never touches the disk.
    """
    if not path or "\x00" in path:
        return PathDecision("blocked", path, "Invalid path")
    if path == "~" or path.startswith("~/"):
        path = AGENT_HOME + path[1:]
    relative = posixpath.normpath(path)
    if not relative.startswith("/") and (relative == ".." or relative.startswith("../")):
        return PathDecision("blocked", relative, "Path escapes the workspace")
    full = posixpath.normpath(posixpath.join(WORKSPACE, path))
    parts = [part.lower() for part in PurePosixPath(full).parts]
    name = parts[-1]
    if ".ssh" in parts or name.startswith(_SSH_KEY_NAMES):
        return PathDecision("blocked", full, "SSH key file access denied")
    if name == ".env" or name.startswith(".env.") or name.endswith(".env"):
        return PathDecision("requires_approval", full, "Environment file access requires approval")
    if name.endswith(_DB_SUFFIXES):
        return PathDecision("requires_approval", full, "Database file access requires approval")
    if full.startswith(_SYSTEM_PREFIXES):
        return PathDecision("requires_approval", full, "System file access requires approval")
    if not full.startswith(WORKSPACE + "/"):
        return PathDecision("requires_approval", full, "Path outside the workspace")
    return PathDecision("allow", full)
