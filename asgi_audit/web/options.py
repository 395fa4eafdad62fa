"""AuditMiddleware's options, checked once and made ready for the request path.

ADAPT. :func:`check_options` checks every option of
:class:`~asgi_audit.web.middleware.AuditMiddleware` and turns them into what the
request path uses (compiled patterns, header names as bytes, the trusted
proxies), so nothing is parsed per request. A wrong option is a
:class:`MiddlewareOptionError` whose message quotes it and says what to write::

    AuditMiddleware: invalid stages=['response'] (expected a list of one or both of
    'request_received', 'response_complete'; did you mean 'response_complete'?)

How such an error stops the app at startup, even where Starlette builds the
middleware inside the lifespan, is :mod:`asgi_audit.web.startup`'s part.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..auditor import Auditor
from .policy import HTTP_TOKEN, AuditPolicy
from .proxies import TrustedProxies

__all__ = (
    "DEFAULT_EXCLUDE",
    "STAGES",
    "MiddlewareOptionError",
    "Options",
    "check_options",
    "close_match",
    "quote",
)

#: The stages a request can be recorded at (``stages=``); exception and
#: disconnect records belong to ``response_complete``.
STAGES: Final = frozenset({"request_received", "response_complete"})

#: Paths not recorded by default: health checks and scrapers, which would drown
#: the file in noise. Glob patterns, matched against the whole path.
DEFAULT_EXCLUDE: Final = (
    "/health",
    "/healthz",
    "/livez",
    "/readyz",
    "/ping",
    "/metrics",
    "/favicon.ico",
)

_FORWARDED_HEADERS: Final = ("x-forwarded-for", "forwarded")
# What makes a glob more than the one path it spells (see fnmatch).
_WILDCARDS: Final = frozenset("*?[")
_QUOTE_CHARS: Final = 200


class MiddlewareOptionError(TypeError, ValueError):
    """A wrong AuditMiddleware option; the message quotes it and says what to write.

    Both a ``TypeError`` and a ``ValueError``, so code that catches either for a
    bad argument catches it.
    """


def quote(value: object) -> str:
    """``repr(value)``, cut at 200 characters: a message quotes the input, not a novel."""
    text = repr(value)
    return text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 3] + "..."


def _invalid(option: str, value: object, expected: str) -> MiddlewareOptionError:
    return MiddlewareOptionError(
        f"AuditMiddleware: invalid {option}={quote(value)} (expected {expected})"
    )


def close_match(word: object, choices: Iterable[str]) -> str | None:
    """The choice ``word`` was most likely meant to be (difflib), or None."""
    close = difflib.get_close_matches(word, list(choices), n=1) if isinstance(word, str) else []
    return close[0] if close else None


def _suggestion(word: object, choices: Iterable[str]) -> str:
    close = close_match(word, choices)
    return f"; did you mean {close!r}?" if close else ""


def _items(option: str, value: object, expected: str) -> tuple[object, ...]:
    # A list of strings: a lone string would be iterated letter by letter.
    if isinstance(value, str):
        raise _invalid(option, value, f"{expected}; write {option}=[{value!r}]")
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable):
        raise _invalid(option, value, expected)
    return tuple(value)


def _patterns(option: str, value: object) -> tuple[re.Pattern[str] | None, bool]:
    """One regex for the globs (None for none), and whether one glob is ``*``."""
    globs = _globs(option, value)
    if not globs:
        return None, False
    regex = re.compile("|".join(f"(?:{fnmatch.translate(glob)})" for glob in globs))
    return regex, "*" in globs


def _split_patterns(option: str, value: object) -> tuple[frozenset[str], re.Pattern[str] | None]:
    """The globs without wildcards, which only match themselves, as a set; one
    regex for the others (None for none)."""
    globs = _globs(option, value)
    exact = frozenset(glob for glob in globs if not _WILDCARDS.intersection(glob))
    rest = [glob for glob in globs if glob not in exact]
    if not rest:
        return exact, None
    return exact, re.compile("|".join(f"(?:{fnmatch.translate(glob)})" for glob in rest))


def _globs(option: str, value: object) -> list[str]:
    globs: list[str] = []
    for pattern in _items(option, value, "a list of glob patterns such as ['/api/*']"):
        if not isinstance(pattern, str) or not pattern.startswith(("/", "*")):
            raise MiddlewareOptionError(
                f"AuditMiddleware: invalid {option} pattern {quote(pattern)} in"
                f" {option}={quote(value)} (a glob matches the whole path, so it starts"
                " with '/' or '*', such as '/api/*')"
            )
        globs.append(pattern)
    return globs


def _stages(value: object) -> frozenset[str]:
    expected = f"a list of one or both of {', '.join(map(repr, sorted(STAGES)))}"
    stages: set[str] = set()
    for stage in _items("stages", value, expected):
        if not isinstance(stage, str) or stage not in STAGES:
            raise _invalid("stages", value, expected + _suggestion(stage, sorted(STAGES)))
        stages.add(stage)
    if not stages:
        raise _invalid("stages", value, expected)
    return frozenset(stages)


def _header(option: str, value: object, example: str, *, optional: bool) -> bytes | None:
    """A header name as the ASGI scope holds it (lower-case bytes); "" or None is none."""
    if optional and (value is None or value == ""):
        return None
    if not isinstance(value, str) or not HTTP_TOKEN.match(value):
        none = ", or None" if optional else ""
        raise _invalid(option, value, f"a header name such as {example!r}{none}")
    return value.lower().encode("latin-1")


def _callable(option: str, value: object, expected: str, *, optional: bool) -> Any:
    if (value is None and optional) or callable(value):
        return value
    raise _invalid(option, value, expected + (", or None" if optional else ""))


def _flag(option: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _invalid(option, value, "True or False")
    return value


def _proxies(value: object, header: object) -> TrustedProxies:
    if not isinstance(header, str) or header.strip().lower() not in _FORWARDED_HEADERS:
        expected = f"one of {', '.join(map(repr, _FORWARDED_HEADERS))}"
        raise _invalid(
            "forwarded_header", header, expected + _suggestion(header, _FORWARDED_HEADERS)
        )
    expected = "IP addresses and CIDR networks such as ['10.0.0.0/8'], or '*' for every peer"
    entries: Iterable[str]
    if isinstance(value, str):
        entries = value  # a comma-separated list (from an environment variable, say)
    else:
        items = _items("trusted_proxies", value, expected)
        if not all(isinstance(entry, str) for entry in items):
            raise _invalid("trusted_proxies", value, expected)
        entries = [str(entry) for entry in items]
    try:
        return TrustedProxies(entries, header=header)
    except ValueError as exc:
        raise MiddlewareOptionError(
            f"AuditMiddleware: invalid trusted_proxies={quote(value)}: {exc} (expected {expected})"
        ) from None


def _record_headers(value: object) -> frozenset[str]:
    if isinstance(value, str):
        if value == "*":
            return frozenset({"*"})
        expected = "a list of header names, or '*' for all"
        raise _invalid("record_headers", value, f"{expected}; write record_headers=[{value!r}]")
    expected = "a list of header names such as ['x-tenant'], or '*' for all"
    names: set[str] = set()
    for name in _items("record_headers", value, expected):
        if not isinstance(name, str) or not HTTP_TOKEN.match(name):
            raise MiddlewareOptionError(
                f"AuditMiddleware: invalid header name {quote(name)} in"
                f" record_headers={quote(value)} (expected {expected})"
            )
        names.add(name.lower())
    return frozenset({"*"}) if "*" in names else frozenset(names)


@dataclass(frozen=True, slots=True)
class Options:
    """The middleware's options, checked and made ready for the request path."""

    auditor: Auditor
    policy: AuditPolicy | None
    stages: frozenset[str]
    identity_resolver: Any
    outcome_for_status: Callable[[int], str]
    include: re.Pattern[str] | None
    include_all: bool
    #: The exclude globs without wildcards: paths matched by equality.
    exclude_exact: frozenset[str]
    #: One regex for the other exclude globs, if any.
    exclude: re.Pattern[str] | None
    proxies: TrustedProxies
    forwarded_name: bytes
    request_id_name: bytes
    session_cookie: str | None
    session_name: bytes | None
    agent_name: bytes | None
    send_500: bool
    request_id_factory: Callable[[], str] | None
    record_query: bool
    record_headers: frozenset[str]


def check_options(
    *,
    auditor: object,
    policy: object,
    include: object,
    exclude: object,
    stages: object,
    identity_resolver: object,
    outcome_for_status: object,
    trusted_proxies: object,
    forwarded_header: object,
    request_id_header: object,
    session_cookie: object,
    session_header: object,
    agent_id_header: object,
    send_500: object,
    request_id_factory: object,
    record_query: object,
    record_headers: object,
) -> Options:
    """Every option checked, whatever was passed (the values are not trusted to
    match the middleware's annotations).

    Raises:
        MiddlewareOptionError: the first wrong option, quoted, with what to write.
    """
    if not isinstance(auditor, Auditor):
        raise _invalid(
            "auditor", auditor, "your Auditor: add_middleware(AuditMiddleware, auditor=auditor)"
        )
    if policy is not None and not isinstance(policy, AuditPolicy):
        raise _invalid("policy", policy, "an AuditPolicy such as AuditPolicy([Rule(...)]), or None")
    include_re, include_all = _patterns("include", include)
    exclude_exact, exclude_re = _split_patterns("exclude", exclude)
    cookie = session_cookie or None
    if cookie is not None and (not isinstance(cookie, str) or not HTTP_TOKEN.match(cookie)):
        raise _invalid("session_cookie", session_cookie, "a cookie name such as 'session', or None")
    request_id_name = _header(
        "request_id_header", request_id_header, "X-Request-ID", optional=False
    )
    assert request_id_name is not None  # not optional
    proxies = _proxies(trusted_proxies, forwarded_header)
    return Options(
        auditor=auditor,
        policy=policy,
        stages=_stages(stages),
        identity_resolver=_callable(
            "identity_resolver",
            identity_resolver,
            "a callable taking the ASGI scope",
            optional=True,
        ),
        outcome_for_status=_callable(
            "outcome_for_status",
            outcome_for_status,
            "a callable from a status code to an outcome",
            optional=False,
        ),
        include=include_re,
        include_all=include_all,
        exclude_exact=exclude_exact,
        exclude=exclude_re,
        proxies=proxies,
        forwarded_name=str(forwarded_header).strip().lower().encode("latin-1"),
        request_id_name=request_id_name,
        session_cookie=cookie,
        session_name=_header("session_header", session_header, "X-Session-ID", optional=True),
        agent_name=_header("agent_id_header", agent_id_header, "X-Agent-ID", optional=True),
        send_500=_flag("send_500", send_500),
        request_id_factory=_callable(
            "request_id_factory",
            request_id_factory,
            "a callable returning a new request id",
            optional=True,
        ),
        record_query=_flag("record_query", record_query),
        record_headers=_record_headers(record_headers),
    )
