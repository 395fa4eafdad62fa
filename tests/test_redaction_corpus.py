"""The redaction corpus: no secret reaches a file, no look-alike is masked.

An independent judge of ``asgi_audit``'s redaction. The data is in
:mod:`tests.corpus` (fake secrets built from public formats, and ordinary values
that look a little like secrets).

* **Secrets.** Each secret is planted in many places through a real
  :class:`~asgi_audit.Auditor` writing real files (top-level free-text fields, nested
  ``details``, header dicts, the middleware's recorded headers and query, query strings,
  JSON inside ``raw_input``, and across the 500-character cut of ``raw_input``). Then
  the raw bytes of every file in the log directory are searched for the secret's
  random parts, in plain and percent-encoded form, and for every 12-character piece
  of those that are 16 characters or longer. One test per (secret, place).
* **Look-alikes.** Paths, UUIDs, digests, words like ``tokenizer``... planted in a
  top-level field, in a sentence, nested in ``details`` and under a neutral key must
  come back unchanged.
* **Properties** (Hypothesis, on :class:`~asgi_audit.record.pipeline.Pipeline` directly):
  every event is one line that parses and fits ``max_event_bytes``, whatever the
  text (Unicode, lone surrogates, control characters, nesting); a corpus secret
  inside random text or a random nested structure never survives.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from asgi_audit import AuditMiddleware, Auditor
from asgi_audit.record.context import RequestContext
from asgi_audit.record.encoding import DEFAULT_FIELD_CAPS, Caps
from asgi_audit.record.events import RawEvent
from asgi_audit.record.pipeline import Pipeline
from asgi_audit.record.redaction import Redactor
from tests.corpus import (
    CARDS,
    FORMATS,
    LOOKALIKE_KEYS,
    LOOKALIKES,
    SECRETS,
    SECRETS_BY_FORMAT,
    Secret,
    luhn_valid,
)

RAW_INPUT_CAP: Final = DEFAULT_FIELD_CAPS["raw_input"]  # 500, the documented cap
FILLER: Final = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "


# ----------------------------------------------------------------------------- helpers


def q(value: str) -> str:
    """``value`` percent-encoded as a query-string value (what ``urlencode`` sends)."""
    return quote(value, safe="-._~")


@cache
def probes(secret: Secret) -> tuple[str, ...]:
    """Every string whose presence in a file means ``secret`` leaked.

    Each needle (a random part of the secret) in plain, percent-encoded and
    form-encoded form, and for forms of 16+ characters every 12-character piece, so
    that half a secret left by a cut, or a secret with a few characters masked, is
    caught too.
    """
    out: dict[str, None] = {}
    for needle in secret.needles:
        for form in (needle, q(needle), quote_plus(needle)):
            out[form] = None
            if len(form) >= 16:
                for i in range(len(form) - 11):
                    out[form[i : i + 12]] = None
    return tuple(out)


def log_files(log_dir: Path) -> list[Path]:
    """Every file the Auditor left in ``log_dir``, at any depth."""
    return sorted(p for p in log_dir.rglob("*") if p.is_file())


def read_events(log_dir: Path) -> list[dict[str, Any]]:
    """Every event of every ``.jsonl`` file, checking each line is one JSON object."""
    events: list[dict[str, Any]] = []
    for path in log_files(log_dir):
        if path.suffix != ".jsonl":
            continue
        data = path.read_bytes()
        assert data.endswith(b"\n"), f"{path.name} ends inside a line"
        for line in data.split(b"\n")[:-1]:
            event = json.loads(line)
            assert isinstance(event, dict)
            events.append(event)
    return events


def find_leaks(log_dir: Path, secret: Secret) -> list[str]:
    """A description of each probe of ``secret`` found in the raw bytes of any file."""
    found: list[str] = []
    for path in log_files(log_dir):
        data = path.read_bytes()
        for probe in probes(secret):
            at = data.find(probe.encode("utf-8"))
            if at < 0:
                continue
            line_start = data.rfind(b"\n", 0, at) + 1
            line_end = data.find(b"\n", at)
            line = data[line_start : line_end if line_end >= 0 else len(data)]
            found.append(
                f"{probe!r} in {path.name} (field {leaked_field(line, probe)}): "
                f"...{data[max(0, at - 60) : at + len(probe) + 60].decode('utf-8', 'replace')}..."
            )
            break  # one probe per file is enough to name the leak
    return found


def leaked_field(line: bytes, probe: str) -> str:
    """The top-level field of an event line whose encoded value holds ``probe``."""
    try:
        event = json.loads(line)
    except ValueError:
        return "?"
    if not isinstance(event, dict):
        return "?"
    for key, value in event.items():
        if probe in json.dumps(value, ensure_ascii=False) or probe in key:
            return repr(key)
    return "?"


def assert_no_leak(log_dir: Path, secret: Secret, place: str) -> None:
    leaks = find_leaks(log_dir, secret)
    assert not leaks, f"{secret.name} [{secret.fmt}] leaked via {place}: " + " | ".join(leaks)


def header_safe(text: str) -> bool:
    """Whether ``text`` can travel as an HTTP header value (latin-1, no CR or LF)."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\r" not in text and "\n" not in text


def straddle(secret: Secret, center: int) -> str:
    """A ``raw_input`` over the cap whose first needle has its middle at ``center``.

    The 500-character cut then falls inside the needle (a few characters either side
    of its middle), so a cut-then-redact writer would leave part of it in the file.
    """
    needle = secret.needles[0]
    half = len(needle) // 2
    shift = max(-(half - 1), min(half - 1, center - RAW_INPUT_CAP))
    mid = secret.text.index(needle) + half
    start = max(1, RAW_INPUT_CAP + shift - mid)
    head = (FILLER * (start // len(FILLER) + 2))[: start - 1] + " "
    out = head + secret.text + " " + FILLER * 6
    at = out.index(needle)
    assert at < RAW_INPUT_CAP < at + len(needle), (secret.name, at, len(needle))
    assert len(out) > RAW_INPUT_CAP
    return out


# ------------------------------------------------------------------------------ places

Plant = Callable[[Auditor, Secret], Awaitable[None]]


def _always(secret: Secret) -> bool:
    return True


@dataclass(frozen=True)
class Place:
    """Where a secret is planted: a coroutine that records one event carrying it."""

    name: str
    plant: Plant
    applies: Callable[[Secret], bool] = _always


# (1) top-level free-text fields


async def _raw_input(a: Auditor, s: Secret) -> None:
    await a.injection_attempt(
        rule_name="credential_in_prompt",
        severity="HIGH",
        raw_input=f"Please debug my config, it says: {s.text} -- thanks!",
    )


async def _matched_text(a: Auditor, s: Secret) -> None:
    await a.injection_attempt(rule_name="exfiltration", severity="CRITICAL", matched_text=s.text)


async def _error_message(a: Auditor, s: Secret) -> None:
    await a.login_attempt("failed", user_id="alice", error_message=f"login failed: {s.text}")


async def _blocked_path(a: Auditor, s: Secret) -> None:
    await a.tool_blocked(
        tool_name="read_file",
        blocked_path=f"/workspace/tmp/{s.text}",
        blocked_reason="outside the sandbox",
        agent_id="agent-7",
    )


async def _user_agent_field(a: Auditor, s: Secret) -> None:
    await a.emit("custom", "probe", user_agent=f"curl/8.5.0 {s.text}")


async def _stack_trace(a: Auditor, s: Secret) -> None:
    try:
        raise RuntimeError(f"upstream call failed: {s.text}")
    except RuntimeError:
        await a.login_attempt("failed", user_id="alice", error_message="upstream", exc_info=True)


# (2) nested in details


async def _details_nested_text(a: Auditor, s: Secret) -> None:
    await a.session_event(
        "session_refreshed",
        details={"steps": [{"name": "fetch", "result": {"note": f"upstream said: {s.text}"}}]},
    )


async def _details_secret_key(a: Auditor, s: Secret) -> None:
    await a.logout(
        user_id="alice",
        details={"auth": {"client_secret": s.value}, "flow": [{"refresh_token": s.value}]},
    )


async def _details_as_key(a: Auditor, s: Secret) -> None:
    await a.emit("custom", "cache_stats", details={"hits_by_caller": {s.text: 3}})


# (3) header dicts


def _secret_headers(s: Secret) -> dict[str, str]:
    return {
        "Authorization": s.value,
        "Cookie": f"session={s.value}; theme=dark",
        "X-Api-Key": s.value,
        "Accept": "application/json",
    }


async def _details_headers(a: Auditor, s: Secret) -> None:
    await a.api_access(
        method="GET",
        request_path="/v1/items",
        status_code=200,
        details={"request_headers": _secret_headers(s)},
    )


async def _emit_request_headers(a: Auditor, s: Secret) -> None:
    await a.emit("http", "request_received", request_headers=_secret_headers(s))


async def _header_neutral_name(a: Auditor, s: Secret) -> None:
    await a.emit(
        "http", "request_received", request_headers={"X-Debug-Context": s.text, "Accept": "*/*"}
    )


# (3b) through the middleware


async def _through_middleware(
    a: Auditor, *, path: str, headers: list[tuple[bytes, bytes]], query: bytes
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    middleware = AuditMiddleware(
        app,
        auditor=a,
        record_query=True,
        record_headers=("authorization", "cookie", "x-api-key", "user-agent", "x-debug-context"),
    )
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "replace"),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"api.example.com"), *headers],
        "client": ("203.0.113.7", 51234),
        "server": ("127.0.0.1", 8000),
    }
    await middleware(scope, receive, send)


async def _middleware_secret_headers(a: Auditor, s: Secret) -> None:
    await _through_middleware(
        a,
        path="/v1/profile",
        headers=[
            (b"authorization", s.value.encode("latin-1")),
            (b"cookie", f"session={s.value}; theme=dark".encode("latin-1")),
            (b"x-api-key", s.value.encode("latin-1")),
        ],
        query=b"",
    )


async def _middleware_user_agent(a: Auditor, s: Secret) -> None:
    ua = f"Mozilla/5.0 (X11; Linux x86_64) {s.text}"
    await _through_middleware(
        a,
        path="/v1/profile",
        headers=[(b"user-agent", ua.encode("latin-1")), (b"x-debug-context", ua.encode("latin-1"))],
        query=b"",
    )


async def _middleware_query(a: Auditor, s: Secret) -> None:
    query = f"code=1&access_token={q(s.value)}&state=xyz"
    await _through_middleware(a, path="/oauth/callback", headers=[], query=query.encode("ascii"))


async def _middleware_path(a: Auditor, s: Secret) -> None:
    await _through_middleware(a, path=f"/files/{s.text}", headers=[], query=b"")


# (4) query strings


async def _query_request_path(a: Auditor, s: Secret) -> None:
    await a.api_access(
        method="GET",
        request_path=f"/oauth/callback?code=1&access_token={q(s.value)}&state=xyz",
        status_code=302,
    )


async def _query_string_field(a: Auditor, s: Secret) -> None:
    await a.emit("http", "callback", query_string=f"page=2&client_secret={q(s.value)}&sort=desc")


async def _query_neutral_param(a: Auditor, s: Secret) -> None:
    # The decoded form, as an app logs request.url after decoding.
    await a.api_access(method="GET", request_path=f"/search?q={s.text}&page=2", status_code=200)


# (5) JSON text inside raw_input


async def _json_secret_key(a: Auditor, s: Secret) -> None:
    await a.injection_attempt(
        rule_name="json_body",
        severity="MEDIUM",
        raw_input=json.dumps({"user": "a", "password": s.value}),
    )


async def _json_neutral_key(a: Auditor, s: Secret) -> None:
    await a.injection_attempt(
        rule_name="json_body",
        severity="MEDIUM",
        raw_input=json.dumps({"user": "a", "message": s.text}),
    )


# (6) at the truncation boundary of raw_input


def _truncation(center: int) -> Plant:
    async def plant(a: Auditor, s: Secret) -> None:
        await a.injection_attempt(
            rule_name="long_input", severity="LOW", outcome="logged", raw_input=straddle(s, center)
        )

    return plant


def _header_safe_value(s: Secret) -> bool:
    return header_safe(s.value) and header_safe(f"session={s.value}")


def _header_safe_text(s: Secret) -> bool:
    return header_safe(f"Mozilla/5.0 (X11; Linux x86_64) {s.text}")


PLACES: Final[list[Place]] = [
    Place("raw_input", _raw_input),
    Place("matched_text", _matched_text),
    Place("error_message", _error_message),
    Place("blocked_path", _blocked_path),
    Place("user_agent_field", _user_agent_field),
    Place("stack_trace", _stack_trace),
    Place("details_nested_text", _details_nested_text),
    Place("details_secret_key", _details_secret_key),
    Place("details_as_key", _details_as_key),
    Place("details_headers", _details_headers),
    Place("emit_request_headers", _emit_request_headers),
    Place("header_neutral_name", _header_neutral_name),
    Place("middleware_secret_headers", _middleware_secret_headers, _header_safe_value),
    Place("middleware_user_agent", _middleware_user_agent, _header_safe_text),
    Place("middleware_query", _middleware_query),
    Place("middleware_path", _middleware_path),
    Place("query_request_path", _query_request_path),
    Place("query_string_field", _query_string_field),
    Place("query_neutral_param", _query_neutral_param),
    Place("json_secret_key", _json_secret_key),
    Place("json_neutral_key", _json_neutral_key),
    Place("truncation_495", _truncation(495)),
    Place("truncation_500", _truncation(500)),
    Place("truncation_505", _truncation(505)),
]

CASES: Final = [
    pytest.param(secret, place, id=f"{secret.name}@{place.name}")
    for secret in SECRETS
    for place in PLACES
    if place.applies(secret)
]


# --------------------------------------------------------------------- corpus sanity


def test_corpus_sizes() -> None:
    assert len(SECRETS) >= 60
    assert len(FORMATS) >= 25
    assert len(PLACES) >= 6
    assert len(LOOKALIKES) >= 40
    assert len({s.name for s in SECRETS}) == len(SECRETS)
    assert len({name for name, _ in LOOKALIKES}) == len(LOOKALIKES)
    for secret in SECRETS:
        assert sum(1 for p in PLACES if p.applies(secret)) >= 5, secret.name


@pytest.mark.parametrize("secret", SECRETS, ids=[s.name for s in SECRETS])
def test_corpus_secret_is_well_formed(secret: Secret) -> None:
    # Every needle is really in what is planted, so a missing needle means redaction.
    assert secret.needles
    for needle in secret.needles:
        assert len(needle) >= 8, needle
        assert needle in secret.text, needle
        assert needle in secret.value, needle
        # Needles hold nothing JSON escapes, so their bytes are the same in a file.
        assert json.dumps(needle, ensure_ascii=False)[1:-1] == needle
    for center in (495, 500, 505):
        straddle(secret, center)  # the cut lands inside the first needle


def test_corpus_formats_are_syntactically_valid() -> None:
    by_name = {s.name: s for s in SECRETS}
    for digits in CARDS:
        assert luhn_valid(digits), digits
    assert not luhn_valid("4532015112830367")  # the look-alike
    assert len(by_name["aws_akia"].value) == 20
    assert by_name["aws_akia"].value[4:].isalnum()
    assert by_name["aws_akia"].value[4:].upper() == by_name["aws_akia"].value[4:]
    assert len(by_name["aws_secret_bare"].value) == 40
    assert "/" in by_name["aws_secret_bare"].value
    assert "+" in by_name["aws_secret_bare"].value
    for name in ("github_ghp", "github_gho", "github_ghu", "github_ghs", "github_ghr"):
        token = by_name[name].value
        assert len(token) == 40, name
        assert token[4:].isalnum(), name
    assert len(by_name["github_pat"].value) == len("github_pat_") + 82
    assert len(by_name["gitlab_glpat"].value) == len("glpat-") + 20
    assert len(by_name["google_aiza"].value) == 39
    assert len(by_name["openai_sk"].value) == 51
    assert len(by_name["hex_48"].value) == 48
    assert len(by_name["hex_56"].value) == 56
    for name in ("jwt_hs256", "jwt_rs256"):
        assert by_name[name].value.startswith("eyJ")
        assert by_name[name].value.count(".") == 2


# ---------------------------------------------------------------- secrets in real files


@pytest.mark.parametrize(("secret", "place"), CASES)
async def test_secret_never_reaches_a_file(tmp_path: Path, secret: Secret, place: Place) -> None:
    log_dir = tmp_path / "security"
    auditor = Auditor(log_dir=log_dir, self_audit=False)
    async with auditor:
        await place.plant(auditor, secret)
    assert len(read_events(log_dir)) == 1
    assert_no_leak(log_dir, secret, place.name)


CONTROL_SECRET: Final = next(s for s in SECRETS if s.name == "github_ghp")


@pytest.mark.parametrize("place", PLACES, ids=[p.name for p in PLACES])
async def test_every_place_reaches_the_file_without_redaction(tmp_path: Path, place: Place) -> None:
    # The control: with redaction off the same planting leaves the secret in a file,
    # so a passing leak test above means redaction, not a place that writes nothing.
    log_dir = tmp_path / "security"
    auditor = Auditor(log_dir=log_dir, redact=False, self_audit=False)
    async with auditor:
        await place.plant(auditor, CONTROL_SECRET)
    assert len(read_events(log_dir)) == 1
    assert find_leaks(log_dir, CONTROL_SECRET), place.name


# ------------------------------------------------------------------------- look-alikes

LOOKALIKE_PLACES: Final = ("top_level", "in_sentence", "details_nested", "neutral_key")


@pytest.mark.parametrize("place", LOOKALIKE_PLACES)
@pytest.mark.parametrize(("name", "value"), LOOKALIKES, ids=[name for name, _ in LOOKALIKES])
async def test_lookalike_is_kept(tmp_path: Path, name: str, value: str, place: str) -> None:
    log_dir = tmp_path / "security"
    auditor = Auditor(log_dir=log_dir, self_audit=False)
    sentence = f"lookup of {value} finished without error"
    async with auditor:
        if place == "top_level":
            await auditor.injection_attempt(
                rule_name="probe", severity="LOW", outcome="logged", raw_input=value
            )
        elif place == "in_sentence":
            await auditor.login_attempt("failed", user_id="alice", error_message=sentence)
        elif place == "details_nested":
            await auditor.session_event(
                "session_created", details={"items": [{"ref": value, "n": 1}]}
            )
        else:
            await auditor.emit("custom", "lookup", lookup={"description": value})
    (event,) = read_events(log_dir)
    if place == "top_level":
        got = event.get("raw_input")
        expected = value
    elif place == "in_sentence":
        got = event.get("error_message")
        expected = sentence
    elif place == "details_nested":
        got = event["details"]["items"][0]["ref"]
        expected = value
    else:
        got = event["lookup"]["description"]
        expected = value
    assert got == expected, f"look-alike {name} was changed in {place}: {got!r}"


async def test_lookalike_keys_keep_their_values(tmp_path: Path) -> None:
    log_dir = tmp_path / "security"
    auditor = Auditor(log_dir=log_dir, self_audit=False)
    text = "token_count=12 password_length=12 author=alice tokenizer=cl100k_base"
    async with auditor:
        await auditor.emit("custom", "usage", details=dict(LOOKALIKE_KEYS), note=text)
    (event,) = read_events(log_dir)
    assert event["details"] == LOOKALIKE_KEYS
    assert event["note"] == text


# -------------------------------------------------------------------------- properties

SESSION_KEY: Final = b"corpus-session-key-0123456789abcd"
T0: Final = 1_795_862_170_013_657_000
MAX_EVENT_BYTES: Final = (1024, 2048, 16384)


@cache
def pipeline(max_event_bytes: int = 16384) -> Pipeline:
    """The writer's pipeline, composed as ``Auditor.__aenter__`` composes it."""
    return Pipeline(
        redactor=Redactor(),
        caps=Caps(fields=dict(DEFAULT_FIELD_CAPS), max_event_bytes=max_event_bytes),
        session_ids="hash",
        session_key=SESSION_KEY,
    )


def raw_event(
    fields: dict[str, Any],
    *,
    context: RequestContext | None = None,
    exception: BaseException | None = None,
) -> RawEvent:
    return RawEvent("injection", "injection_attempt", "blocked", T0, context, fields, exception)


def assert_one_line(line: bytes, max_event_bytes: int) -> dict[str, Any]:
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    text = line.decode("utf-8")  # strict: no lone surrogate, no invalid byte
    assert len(text.splitlines()) == 1
    assert len(line) <= max_event_bytes
    event = json.loads(line)
    assert isinstance(event, dict)
    return event


def assert_no_leak_in_line(line: bytes, secret: Secret) -> None:
    for probe in probes(secret):
        assert probe.encode("utf-8") not in line, (
            f"{secret.name} [{secret.fmt}]: {probe!r} survived in {line[:2000]!r}"
        )


# Every code point, lone surrogates and control characters included.
ANY_CHAR: Final = st.characters(exclude_categories=())
ANY_TEXT: Final = st.text(alphabet=ANY_CHAR, max_size=200)
LONG_TEXT: Final = st.text(alphabet=ANY_CHAR, max_size=3000)
JSON_LIKE: Final = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=ANY_CHAR, max_size=20), children, max_size=4)
    ),
    max_leaves=16,
)
# Text around a planted secret: any code point except quotes, backslash and "=", which
# open an unbalanced quoted or key=value context around the secret (``k="`` followed by
# ``password="x"``). A colon stays: ``login failed: password=x`` is ordinary prose.
SAFE_CHAR: Final = st.characters(exclude_categories=(), exclude_characters="\"'=\\`")
SAFE_TEXT: Final = st.text(alphabet=SAFE_CHAR, max_size=600)
# What sits right before and after a secret in real text: prose, a log prefix, a
# pair whose key is not secret, a query parameter, a path, brackets, line breaks.
BEFORE: Final = st.sampled_from(
    (
        " ",
        " error: ",
        " login failed: ",
        " msg=",
        " ?q=",
        " /srv/cache/",
        " (",
        " [",
        " <",
        "\n",
        "\t",
        " | ",
        " --> ",
    )
)
AFTER: Final = st.sampled_from((" ", ")", "]", ">", "\n", ", ", "; ", "&page=2", ". "))
SAFE_KEY: Final = st.text(alphabet=SAFE_CHAR, min_size=1, max_size=16)
SAFE_JSON_LIKE: Final = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=SAFE_CHAR, max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(SAFE_KEY, children, max_size=4)
    ),
    max_leaves=12,
)
TEXT_FIELDS: Final = (
    "raw_input",
    "matched_text",
    "error_message",
    "user_agent",
    "blocked_path",
    "request_path",
    "query_string",
    "note",
)
# derandomize: the same examples on every run, so the verdict on a given library does
# not depend on the seed (a judge must not flake); no deadline, no timing assertion.
PROPERTY_SETTINGS: Final = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    raw_input=st.text(alphabet=ANY_CHAR, max_size=800),
    error_message=ANY_TEXT,
    user_agent=ANY_TEXT,
    request_path=ANY_TEXT,
    blob=LONG_TEXT,
    details=JSON_LIKE,
    extra=JSON_LIKE,
    exc_message=st.none() | ANY_TEXT,
    max_event_bytes=st.sampled_from(MAX_EVENT_BYTES),
)
def test_property_every_event_is_one_parseable_line_within_the_cap(
    raw_input: str,
    error_message: str,
    user_agent: str,
    request_path: str,
    blob: str,
    details: Any,
    extra: Any,
    exc_message: str | None,
    max_event_bytes: int,
) -> None:
    context = RequestContext(
        ip_address="203.0.113.7",
        user_agent=user_agent,
        session_id=user_agent,
        request_id=request_path,
        request_path=request_path,
        method="POST",
    )
    exception = None if exc_message is None else RuntimeError(exc_message)
    fields = {
        "raw_input": raw_input,
        "error_message": error_message,
        "blob": blob,
        "blob2": blob[::-1],
        "details": details,
        "extra": extra,
    }
    line = pipeline(max_event_bytes).encode(raw_event(fields, context=context, exception=exception))
    event = assert_one_line(line, max_event_bytes)
    assert event["event_type"] == "injection_attempt"


@pytest.mark.parametrize("fmt", FORMATS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_property_secret_in_random_text_never_survives(fmt: str, data: st.DataObject) -> None:
    secret = data.draw(st.sampled_from(SECRETS_BY_FORMAT[fmt]), label="secret")
    left = data.draw(SAFE_TEXT, label="left")
    right = data.draw(SAFE_TEXT, label="right")
    field = data.draw(st.sampled_from(TEXT_FIELDS), label="field")
    max_event_bytes = data.draw(st.sampled_from(MAX_EVENT_BYTES), label="max_event_bytes")
    before = data.draw(BEFORE, label="before")
    after = data.draw(AFTER, label="after")
    text = f"{left}{before}{secret.text}{after}{right}"
    line = pipeline(max_event_bytes).encode(raw_event({field: text}))
    assert_one_line(line, max_event_bytes)
    assert_no_leak_in_line(line, secret)


def _insert(structure: Any, payload: str, path: list[int], key: str) -> Any:
    """A copy of ``structure`` with ``payload`` added at the container ``path`` leads to."""
    if path and isinstance(structure, dict) and structure:
        k = list(structure)[path[0] % len(structure)]
        return {**structure, k: _insert(structure[k], payload, path[1:], key)}
    if path and isinstance(structure, list) and structure:
        i = path[0] % len(structure)
        return [*structure[:i], _insert(structure[i], payload, path[1:], key), *structure[i + 1 :]]
    if isinstance(structure, dict):
        return {**structure, key: payload}
    if isinstance(structure, list):
        return [*structure, payload]
    return {key: payload, "was": structure}


@pytest.mark.parametrize("fmt", FORMATS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_property_secret_in_random_structure_never_survives(fmt: str, data: st.DataObject) -> None:
    secret = data.draw(st.sampled_from(SECRETS_BY_FORMAT[fmt]), label="secret")
    structure = data.draw(SAFE_JSON_LIKE, label="structure")
    path = data.draw(st.lists(st.integers(min_value=0, max_value=7), max_size=6), label="path")
    key = data.draw(SAFE_KEY, label="key")
    if data.draw(st.booleans(), label="in_text"):
        left = data.draw(st.text(alphabet=SAFE_CHAR, max_size=60), label="left")
        right = data.draw(st.text(alphabet=SAFE_CHAR, max_size=60), label="right")
        before = data.draw(BEFORE, label="before")
        after = data.draw(AFTER, label="after")
        payload = f"{left}{before}{secret.text}{after}{right}"
    else:
        payload = secret.text
    field = data.draw(st.sampled_from(("details", "context_data", "payload")), label="field")
    line = pipeline().encode(raw_event({field: _insert(structure, payload, path, key)}))
    assert_one_line(line, 16384)
    assert_no_leak_in_line(line, secret)
