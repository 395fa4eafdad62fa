"""The compiled pipeline against the reference, byte for byte.

Skipped where the compiled core is not installed or ``ASGI_AUDIT_PURE`` is set
(``make native`` builds and installs it). The properties: for arbitrary batches of
captured events (attacker-like strings, secrets of the corpus, nested details,
reserved keys, every context field, lone surrogates, objects), under every session
mode, several caps, with and without redaction, unsealed and sealed into chains,
:meth:`Pipeline.encode_batch` gives exactly the lines :meth:`Pipeline.encode` gives
one by one with the same ids, and leaves the chains where they leave them.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from typing import Any, cast

import anyio
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_audit.proof.integrity import Chain, Sealed
from asgi_audit.record.context import RequestContext
from asgi_audit.record.encoding import Caps, encode_line
from asgi_audit.record.engine import PURE_VARIABLE, compiled_module
from asgi_audit.record.events import DATA_ACTIONS, RawEvent
from asgi_audit.record.pipeline import Pipeline
from asgi_audit.record.redaction import Redactor
from asgi_audit.store.appending import Appender
from asgi_audit.store.lane import CoreLane
from asgi_audit.store.run import LaneRun
from tests.helpers import ChainsOnly, debug_allocator_output
from tests.secret_corpus.formats import samples

_module = compiled_module()
pytestmark = pytest.mark.skipif(
    _module is None or not hasattr(_module, "Pipeline"),
    reason="the compiled core is not installed (make native), or ASGI_AUDIT_PURE is set",
)

# A run of the suite: 400 examples a property (each a batch of many events);
# ASGI_AUDIT_NATIVE_EXAMPLES=5000 for a deeper run.
EXAMPLES = int(os.environ.get("ASGI_AUDIT_NATIVE_EXAMPLES", "400"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SECRETS = [s.sample.text for s in samples()][::3]
KEY = b"k" * 32

PIECES = [
    *SECRETS,
    "password=hunter2",
    "api_key: sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "?token=abc%3Ddef&next=/login?password=x",
    "--password s3cr3t",
    "\n",
    "\r\n",
    "\u2028",
    "\u2029",
    "\u0085",
    "\x00",
    "\x1f",
    "\x7f",
    '"',
    "\\",
    '\\"key\\": \\"value\\"',
    "é",
    "日本",
    "😀",
    "\ud800",
    "\udfff",
    " ",
    "NoneType: None",
    "…",
    "/items/{item_id}",
]

KEYS = [
    "password",
    "api_key",
    "token_count",
    "session_ids",
    "user_agent",
    "raw_input",
    "stack_trace",
    "status_code",
    "session_id",
    "request_id",
    "request_path",
    "blocked_path",
    "tool_name",
    "user_id",
    "action",
    "resource_type",
    "details",
    "outcome",
    "event_type",
    "event_action",
    "resource",
    "truncated",
    "truncated_fields",
    "seq",
    "stream",
    "mac",
    "prev_mac",
    "mac_key_id",
    "timestamp",
    "category",
    "value",
    "…",
    "clé",
    "x\ud800",
    "note",
    "Note",
    "NOTE",
]

text = st.one_of(
    st.lists(st.sampled_from(PIECES) | st.text(max_size=8), max_size=6).map("".join),
    st.text(max_size=40),
    st.builds(
        lambda c, n: c * n, st.sampled_from(["a", "é", "x=", "\u2028", "😀"]), st.integers(0, 9000)
    ),
)
key = st.sampled_from(KEYS) | st.text(max_size=12)
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**65),
    st.sampled_from([0, 1, 200, 401, 403, 429, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(key, inner, max_size=6),
    ),
    max_leaves=24,
)
context = st.none() | st.builds(
    RequestContext,
    **{
        name: st.none() | text
        for name in (
            "ip_address",
            "user_agent",
            "session_id",
            "request_id",
            "request_path",
            "method",
            "agent_id",
            "user_id",
            "trace_id",
            "span_id",
            "ip_address_rejected",
        )
    },
)
EVENT_TYPES = [
    "login_attempt",
    "logout",
    "api_access",
    "websocket_connect",
    "websocket_close",
    "tool_path_blocked",
    "injection_attempt",
    "data_access",
    "session_created",
    "audit_started",
    "custom_thing",
]
raw_event = st.builds(
    RawEvent,
    category=st.sampled_from(["auth", "injection", "api_audit", "data_access", "custom"]),
    event_type=st.sampled_from(EVENT_TYPES) | text,
    outcome=st.none()
    | st.sampled_from(["success", "failed", "blocked", "rate_limited", "denied"])
    | text,
    time_ns=st.integers(0, 2**63 - 1) | st.just(time.time_ns()),
    context=context,
    fields=st.dictionaries(key, value, max_size=8),
    exception=st.sampled_from([None, None, None, ValueError("boom")]),
)

# What the core decides itself: ASCII text, plain values in range, no exception.
ascii_text = st.one_of(
    st.lists(
        st.sampled_from([p for p in PIECES if p.isascii()])
        | st.text(st.characters(max_codepoint=127), max_size=8),
        max_size=6,
    ).map("".join),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "x=", "\x00"]), st.integers(0, 6000)),
)
plain_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | ascii_text,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(ascii_text | key, inner, max_size=5)
    ),
    max_leaves=16,
)
plain_event = st.builds(
    RawEvent,
    category=st.sampled_from(["auth", "api_audit"]),
    event_type=st.sampled_from(EVENT_TYPES),
    outcome=st.none() | st.sampled_from(["success", "failed", "blocked"]),
    time_ns=st.integers(0, 2**63 - 1),
    context=st.none() | st.builds(RequestContext, session_id=ascii_text, user_agent=ascii_text),
    fields=st.dictionaries(st.sampled_from(KEYS[:26]) | ascii_text, plain_value, max_size=8),
    durable=st.booleans(),
)

REDACTOR = Redactor()
CAPS = [
    Caps(),
    Caps(
        fields={"raw_input": 16, "user_agent": 20},
        default_chars=24,
        max_event_bytes=1024,
        max_items=2,
    ),
    Caps(default_chars=64, max_event_bytes=2048, max_items=3),
]
PIPELINES = [
    Pipeline(redactor=redactor, caps=caps, session_ids=mode, session_key=KEY)
    for redactor in (REDACTOR, None)
    for caps in CAPS
    for mode in ("hash", "raw", "omit")
]
PREV = Sealed("0123456789abcdef", 41, bytes(range(32)), "hmac-sha256")


def _chain(kind: str, category: str) -> Chain | None:
    stream = f"stream-{category}"
    if kind == "none":
        return None
    if kind == "hmac":
        return Chain(KEY, stream_id=stream)
    if kind == "sha":
        return Chain(None, stream_id=stream)
    if kind == "prev":
        return Chain(KEY, stream_id=stream, prev=PREV)
    if kind == "mixed":  # some categories sealed, others not, in one batch
        return Chain(KEY, stream_id=stream) if category in ("auth", "custom") else None
    return Chain(KEY, stream_id=stream, label="fs-hmac-sha256:3")


def _state(chains: dict[str, Chain | None]) -> dict[str, Any]:
    return {
        c: None if chain is None else (chain.last.seq, chain.last.mac, chain.tree.root())
        for c, chain in chains.items()
    }


def _both(pipeline: Pipeline, raws: list[RawEvent], kind: str, advance: int = 0) -> None:
    ids = [str(uuid.UUID(int=(1 << 76) | i)) for i in range(len(raws))]
    a: dict[str, Chain | None] = {}
    b: dict[str, Chain | None] = {}

    def maker(chains: dict[str, Chain | None]) -> Any:
        def chain_for(category: str) -> Chain | None:
            if category not in chains:
                chain = chains[category] = _chain(kind, category)
                for _ in range(advance):  # a stream already under way
                    if chain is not None:
                        chain.seal(b'{"x":1}\n')
            return chains[category]

        return chain_for

    native = pipeline._encode_batch(raws, maker(a), ids)
    chain_b = maker(b)
    reference = [
        pipeline.encode(raw, chain_b(raw.category), event_id=ids[i]) for i, raw in enumerate(raws)
    ]
    assert native == reference
    assert _state(a) == _state(b)
    # The batch grouped by the core as the writer appends it, or given back
    # line by line: the same lines, the chains left alike.
    c: dict[str, Chain | None] = {}
    real = len(raws) // 2
    grouped = pipeline._encode_grouped(raws, maker(c), real, ids)
    if isinstance(grouped, tuple):
        assert grouped == (_grouped(raws, reference, real), any(raw.durable for raw in raws))
    else:
        assert grouped == reference
    assert _state(c) == _state(b)
    # The same on the writer's lane (no file given: every group comes back).
    d: dict[str, Chain | None] = {}
    assert _on_lane(pipeline, raws, maker(d), real, ids) == grouped
    assert _state(d) == _state(b)
    # Split into chunks of a run, each started on the lane before the last is
    # finished and carrying on its chains: the same lines, the chains alike.
    e: dict[str, Chain | None] = {}
    assert _in_a_run(pipeline, raws, maker(e), real, ids) == _grouped(raws, reference, real)
    assert _state(e) == _state(b)


_LANES: dict[int, Any] = {}


def _lane() -> Any:
    # One lane per process: a forked child (a test runner that forks) has its
    # parent's lane but not its thread.
    assert _module is not None
    lane = _LANES.get(os.getpid())
    if lane is None:
        lane = _LANES[os.getpid()] = _module.Lane()
    return lane


def _on_lane(
    pipeline: Pipeline, raws: list[RawEvent], chain_for: Any, real: int, ids: list[str]
) -> Any:
    # The batch through CoreLane.run, in the form encode_grouped gives.
    lane = CoreLane(pipeline, _lane())
    out = anyio.run(lane.run, raws, chain_for, real, [], ids)
    if isinstance(out, list):
        return out
    groups, durable = out
    return [(g.category, g.data, g.count, g.first, g.real) for g in groups], durable


def _in_a_run(
    pipeline: Pipeline, raws: list[RawEvent], chain_for: Any, real: int, ids: list[str]
) -> list[Any]:
    # The batch as a run on the lane (in three chunks or so, all started before
    # the first is finished), appending nothing: its groups, as _grouped gives them.
    run = LaneRun(
        CoreLane(pipeline, _lane()),
        cast(Appender, ChainsOnly(chain_for)),
        direct=False,
        size=max(1, -(-len(raws) // 3)),
    )
    rest = run.add(list(raws), 1, real, ids)

    async def finish() -> None:
        while run.busy():
            run.start()
            await run.finish()

    anyio.run(finish)
    return [
        (c, b"".join(rest.lines[c]), rest.count[c], rest.first_seq[c] - 1, rest.real_count[c])
        for c in rest.lines
    ]


def _grouped(raws: list[RawEvent], lines: list[bytes], real: int) -> list[Any]:
    # The groups encode_grouped must give for these sealed lines.
    groups: dict[str, list[Any]] = {}
    for i, (raw, line) in enumerate(zip(raws, lines, strict=True)):
        group = groups.setdefault(raw.category, [raw.category, b"", 0, i, 0])
        group[1] += line
        group[2] += 1
        group[4] += i < real
    return [tuple(group) for group in groups.values()]


@SETTINGS
@given(
    raws=st.lists(raw_event, max_size=6),
    which=st.sampled_from(range(len(PIPELINES))),
    kind=st.sampled_from(["none", "hmac", "sha", "prev", "forward", "mixed"]),
    advance=st.sampled_from([0, 0, 2]),
)
def test_a_batch_is_the_reference_byte_for_byte(
    raws: list[RawEvent], which: int, kind: str, advance: int
) -> None:
    _both(PIPELINES[which], raws, kind, advance)


@settings(
    max_examples=max(EXAMPLES // 16, 10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    raws=st.lists(raw_event, min_size=1, max_size=8),
    which=st.sampled_from(range(len(PIPELINES))),
    kind=st.sampled_from(["none", "hmac", "prev", "forward", "mixed"]),
)
def test_a_batch_large_enough_to_be_encoded_in_two_halves_is_the_reference(
    raws: list[RawEvent], which: int, kind: str
) -> None:
    # From 256 events on, a machine with two cores or more encodes a batch's two
    # halves at once, each with caches of its own: the lines, their seq numbers
    # and the chains must be the reference's all the same.
    _both(PIPELINES[which], [raws[i % len(raws)] for i in range(301)], kind)


@SETTINGS
@given(
    raws=st.lists(plain_event, max_size=6),
    which=st.sampled_from(range(len(PIPELINES))),
    kind=st.sampled_from(["none", "hmac", "prev", "forward", "mixed"]),
)
def test_plain_batches_are_the_reference_byte_for_byte(
    raws: list[RawEvent], which: int, kind: str
) -> None:
    _both(PIPELINES[which], raws, kind)


@SETTINGS
@given(
    fields=st.dictionaries(key, text, max_size=6),
    details=st.dictionaries(key, text, max_size=6),
    which=st.sampled_from(range(len(PIPELINES))),
)
def test_strings_and_details_are_the_reference(
    fields: dict[str, str], details: dict[str, str], which: int
) -> None:
    raw = RawEvent(
        "api_audit",
        "api_access",
        "success",
        time.time_ns(),
        RequestContext(session_id="abc", request_path="/x"),
        {**fields, "details": details},
    )
    _both(PIPELINES[which], [raw, raw], "hmac")


# The standard names (event_action, resource) that vocabulary.py and the core's
# event.rs each give: every event type, outcome and field they tell apart, each
# combination once, so no pair is left to chance.
STANDARD_OUTCOMES = [None, "success", "failed", "blocked", "rate_limited", "denied", "unknown"]
STANDARD_FIELDS: list[dict[str, Any]] = [
    {},
    *({"action": action, "resource_type": "patient"} for action in DATA_ACTIONS),
    {"action": "Read", "resource_type": 7},
    {"action": 1, "resource_type": ""},
    *({"status_code": status, "request_path": "/items/7"} for status in (200, 401, 403, 429)),
    {"status_code": "401", "request_path": ""},
    {"authz_decision": "deny", "status_code": 200, "request_path": "/items/7"},
    {"authz_decision": "deny", "status_code": 404},
    {"authz_decision": "allow", "status_code": 403},
    {"authz_decision": "Deny"},
    {"authz_decision": 1, "status_code": 429},
    {"blocked_path": "/etc/passwd", "tool_name": "read_file", "user_id": "ann"},
    {"blocked_path": "", "tool_name": "read_file"},
    {"event_action": "own_action", "resource": "own_resource", "action": "read"},
]


def test_the_standard_names_are_the_references() -> None:
    raws = [
        RawEvent("data_access", event_type, outcome, 1_780_000_000_123_456_789, None, dict(fields))
        for event_type in [*EVENT_TYPES, "custom_thing"]
        for outcome in STANDARD_OUTCOMES
        for fields in STANDARD_FIELDS
    ]
    for pipeline in PIPELINES[:2]:
        _both(pipeline, raws, "none")


def test_a_data_access_gets_its_owasp_name_and_resource_on_both_paths() -> None:
    # The table the docs give, line by line, on the core and on the reference.
    cases: list[tuple[str, str, str | None]] = [
        ("read", "success", "sensitive_read"),
        ("export", "success", "sensitive_read"),
        ("update", "success", "sensitive_update"),
        ("delete", "failed", "sensitive_delete"),
        ("delete", "denied", "authz_fail"),
        ("peek", "success", None),
    ]
    raws = [
        RawEvent(
            "data_access",
            "data_access",
            outcome,
            1_780_000_000_123_456_789,
            None,
            {"action": action, "resource_type": "patient", "resource_id": 7},
        )
        for action, outcome, _ in cases
    ]
    ids = [str(uuid.UUID(int=(1 << 76) | i)) for i in range(len(raws))]
    for pipeline in PIPELINES:
        native = pipeline._encode_batch(raws, lambda category: None, ids)
        reference = [
            pipeline.encode(raw, None, event_id=i) for raw, i in zip(raws, ids, strict=True)
        ]
        for lines in (native, reference):
            found = [orjson.loads(line) for line in lines]
            assert [e.get("event_action") for e in found] == [c[2] for c in cases]
            assert {e["resource"] for e in found} == {"patient"}


@SETTINGS
@given(numbers=st.lists(st.floats() | st.integers(-(2**63), 2**64 - 1), max_size=20))
def test_numbers_are_written_as_orjson_writes_them(numbers: list[float]) -> None:
    raw = RawEvent("custom", "metrics", None, time.time_ns(), None, {"n": numbers})
    _both(PIPELINES[0], [raw], "none")
    line = PIPELINES[9]._encode_batch([raw], lambda c: None, ["i"])[0]
    assert orjson.dumps(numbers) in line


def test_plain_events_are_encoded_by_the_core() -> None:
    pipeline = PIPELINES[0]
    raw = RawEvent(
        "auth",
        "login_attempt",
        "failed",
        time.time_ns(),
        RequestContext(ip_address="203.0.113.7", session_id="s", user_agent="curl/8"),
        {"user_id": "bob", "password": "hunter2", "details": {"attempt": 3, "ok": False}},
    )
    out = pipeline._native.encode_batch([raw, raw], [None, None], [], None)
    assert all(type(line) is bytes for line in out)
    line = out[0]
    assert line.endswith(b"}\n")
    assert line.count(b"\n") == 1
    event = orjson.loads(line)
    assert event["password"] == "***REDACTED***"
    assert event["session_id"].startswith("h:")
    assert event["event_action"] == "authn_login_fail"


def test_what_the_core_cannot_decide_goes_to_the_reference() -> None:
    pipeline = PIPELINES[0]
    now = time.time_ns()
    given_back = [
        RawEvent("auth", "x", None, now, None, {"note": "pässword=hunter2 and more"}),
        RawEvent("auth", "x", None, now, None, {"note": "a\ud800b"}),
        RawEvent("auth", "x", None, now, None, {"n": 2**70}),
        RawEvent("auth", "x", None, now, None, {"when": object()}),
        RawEvent("auth", "x", None, now, None, {}, exception=ValueError("x")),
        RawEvent("auth", "x", None, now, None, {"big": ["y" * 4000] * 8}),
    ]
    out = pipeline._native.encode_batch(given_back, [None] * len(given_back), [], None)
    assert all(type(item) is str for item in out)
    _both(pipeline, given_back, "hmac")


def test_ids_increase_across_a_batch_of_native_and_reference_events() -> None:
    pipeline = PIPELINES[0]
    now = time.time_ns()
    raws = []
    for i in range(600):
        fields: dict[str, Any] = {"i": i}
        if i % 3 == 1:
            fields["note"] = "café au lait, password=x"  # the reference's
        if i % 7 == 2:
            fields["when"] = object()
        raws.append(RawEvent("auth", "custom", None, now - i * 1000, None, fields))
    lines = pipeline.encode_batch(raws, lambda c: None)
    ids = [uuid.UUID(orjson.loads(line)["event_id"]).int for line in lines]
    assert all(a < b for a, b in itertools.pairwise(ids))
    # The same generator draws the reference's own ids.
    assert uuid.UUID(pipeline.build(raws[0])["event_id"]).int > ids[-1]


def test_a_failure_in_the_reference_still_gives_a_line_with_the_batch_id() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    raws = [RawEvent("auth", "x", None, time.time_ns(), None, {"h": {Hostile(): 1}})]
    _both(PIPELINES[0], raws, "hmac")
    line = PIPELINES[0]._encode_batch(raws, lambda c: None, ["the-id"])[0]
    assert b'"event_id":"the-id"' in line


def test_the_line_is_encode_lines() -> None:
    event = {"a": '\u2028\u0085\x00\x1f"\\é😀', "b": [1.5, 1e16, None, True]}
    raw = RawEvent("custom", "t", None, 0, None, event)
    line = PIPELINES[9]._encode_batch([raw], lambda c: None, ["i"])[0]
    assert encode_line({"a": event["a"], "b": event["b"]})[1:-2] in line


def test_a_plain_batch_is_sealed_and_grouped_by_the_core() -> None:
    pipeline = PIPELINES[0]
    now = time.time_ns()
    raws = [
        RawEvent(category, "custom", None, now + i, None, {"i": i, "password": "hunter2"})
        for i, category in enumerate(["auth", "api_audit", "auth", "custom", "api_audit"])
    ]
    raws[3] = RawEvent("custom", "custom", None, now, None, {"i": 3}, durable=True)
    chains = {"auth": Chain(KEY), "custom": Chain(None)}  # api_audit unsealed
    out = pipeline.encode_grouped(raws, chains.get, 4)
    assert isinstance(out, tuple)
    groups, durable = out
    assert durable is True
    assert [(g[0], g[2], g[3], g[4]) for g in groups] == [
        ("auth", 2, 0, 2),
        ("api_audit", 2, 1, 1),
        ("custom", 1, 3, 1),
    ]
    auth = [orjson.loads(line) for line in groups[0][1].splitlines()]
    assert [e["i"] for e in auth] == [0, 2]
    assert [e["seq"] for e in auth] == [1, 2]
    assert all(e["password"] == "***REDACTED***" for e in auth)
    assert chains["auth"].last.seq == 2
    assert chains["auth"].tree.size == 2
    assert auth[1]["mac"] == f"hmac-sha256:{chains['auth'].last.mac.hex()}"
    assert b'"mac"' not in groups[1][1]
    assert orjson.loads(groups[2][1])["mac"].startswith("sha256:")


def test_a_batch_with_an_event_for_the_reference_is_given_back_line_by_line() -> None:
    pipeline = PIPELINES[0]
    now = time.time_ns()
    raws = [
        RawEvent("auth", "x", None, now, None, {"note": "plain"}),
        RawEvent("auth", "x", None, now, None, {"note": "café password=hunter2 and more"}),
    ]
    chain = Chain(KEY)
    out = pipeline.encode_grouped(raws, lambda c: chain, 2)
    assert isinstance(out, list)
    assert len(out) == 2
    assert b"hunter2" not in out[1]
    assert chain.last.seq == 2
    assert orjson.loads(out[1])["mac"] == f"hmac-sha256:{chain.last.mac.hex()}"


_CHANGED_MEANWHILE = """
import sys, threading, time
from asgi_audit.record.encoding import Caps
from asgi_audit.record.events import RawEvent
from asgi_audit.record.pipeline import Pipeline

pipeline = Pipeline(redactor=None, caps=Caps(), session_ids="raw", session_key=b"k" * 32)
def note(i):
    return ("n%05d-" % i) * 300  # made at run time: the dict holds the only reference

changed = 0
for round in range(20):
    raws = [RawEvent("custom", "x", None, time.time_ns(), None, {"note": note(i)})
            for i in range(1024)]
    go, stop = threading.Event(), threading.Event()
    def change():
        go.wait()  # then waits for the GIL, which the core lets go once it has read
        while not stop.is_set():
            for raw in raws:
                raw.fields["note"] = "z"  # frees the caller's string
    thread = threading.Thread(target=change)
    thread.start()
    try:
        go.set()
        out = pipeline.encode_grouped(raws, lambda c: None, 1024)
    finally:
        stop.set()
        thread.join()
    data = out[0][0][1] if isinstance(out, tuple) else b"".join(out)
    for i, line in enumerate(data.splitlines()):
        text = line.decode("utf-8")
        assert ('"note":"%s"' % note(i)) in text or '"note":"z"' in text, (round, i, text[:200])
        changed += '"note":"z"' in text
print("ok" if changed < 20 * 1024 else "changed before it was read")
"""


def test_a_caller_that_changes_its_fields_meanwhile_changes_nothing_read() -> None:
    # The core reads the caller's strings without copying them and encodes them
    # without the GIL, while another thread may replace them in the dict. Under
    # Python's debug allocator a freed string's memory is overwritten at once:
    # were the core not holding its own reference to each string it read, its
    # lines would hold that garbage.
    assert debug_allocator_output(_CHANGED_MEANWHILE) == "ok"


def test_a_forked_child_draws_its_own_ids_in_a_batch() -> None:
    # The core checks once per batch that it is still the process that filled
    # its pool of random bytes: a child made by fork() (a server's workers) must
    # draw fresh ones, or parent and child would make the same ids in one tick.
    pipeline = Pipeline(redactor=None, caps=Caps(), session_ids="raw", session_key=KEY)
    now = time.time_ns()
    raws = [RawEvent("custom", "x", None, now, None, {"i": i}) for i in range(50)]

    def ids() -> set[str]:
        lines = pipeline.encode_batch(raws, lambda c: None)
        return {orjson.loads(line)["event_id"][-12:] for line in lines}

    ids()  # the pool is filled in the parent
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write_end, ",".join(ids()).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = set(pipe.read().decode().split(","))
    os.waitpid(pid, 0)
    parent = ids()
    assert len(child) == 50
    assert not child & parent


def _plain_batch() -> list[RawEvent]:
    now = time.time_ns()
    return [
        RawEvent(c, "x", None, now + i, None, {"i": i, "password": "hunter2"})
        for i, c in enumerate(["auth", "custom", "auth", "api_audit"])
    ]


def _reference_lines(pipeline: Pipeline, raws: list[RawEvent], ids: list[str]) -> list[bytes]:
    chains: dict[str, Chain] = {}
    return [
        pipeline.encode(
            raw,
            chains.setdefault(raw.category, Chain(KEY, stream_id=raw.category)),
            event_id=ids[i],
        )
        for i, raw in enumerate(raws)
    ]


def _grouped_or_lines(pipeline: Pipeline, raws: list[RawEvent], ids: list[str]) -> Any:
    chains: dict[str, Chain] = {}

    def chain_for(category: str) -> Chain:
        return chains.setdefault(category, Chain(KEY, stream_id=category))

    return pipeline._encode_grouped(raws, chain_for, len(raws), ids)


def _plain_batch_and_ids() -> tuple[list[RawEvent], list[str]]:
    """:func:`_plain_batch` and an id of its own for each event."""
    raws = _plain_batch()
    return raws, [f"id-{i}" for i in range(len(raws))]


def test_without_the_core_a_batch_is_the_references_line_by_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PURE_VARIABLE, "1")
    pipeline = Pipeline(redactor=REDACTOR, caps=Caps(), session_ids="hash", session_key=KEY)
    assert not pipeline.native
    raws, ids = _plain_batch_and_ids()
    assert _grouped_or_lines(pipeline, raws, ids) == _reference_lines(pipeline, raws, ids)


def test_a_chain_the_reference_seals_leaves_the_batch_to_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipeline = PIPELINES[0]
    raws, ids = _plain_batch_and_ids()
    monkeypatch.setenv(PURE_VARIABLE, "1")  # the chains made now seal in Python
    out = _grouped_or_lines(pipeline, raws, ids)
    assert out == _reference_lines(pipeline, raws, ids)


def test_a_failure_of_the_core_leaves_the_batch_to_the_reference() -> None:
    pipeline = Pipeline(redactor=REDACTOR, caps=Caps(), session_ids="hash", session_key=KEY)

    class Broken:
        def encode_grouped(self, *args: Any) -> Any:
            raise RuntimeError("a bug in the core")

    pipeline._native = Broken()
    raws, ids = _plain_batch_and_ids()
    assert _grouped_or_lines(pipeline, raws, ids) == _reference_lines(pipeline, raws, ids)
    # Without given ids the reference draws them, in order.
    lines = pipeline.encode_grouped(raws, lambda c: None, len(raws))
    assert isinstance(lines, list)
    drawn = [uuid.UUID(orjson.loads(line)["event_id"]).int for line in lines]
    assert drawn == sorted(drawn)


def _lane_lines(pipeline: Pipeline, raws: list[RawEvent], ids: list[str]) -> Any:
    # The batch through CoreLane.run, each category sealed into a chain of its own.
    chains: dict[str, Chain] = {}

    def chain_for(category: str) -> Chain:
        return chains.setdefault(category, Chain(KEY, stream_id=category))

    return anyio.run(CoreLane(pipeline, _lane()).run, raws, chain_for, len(raws), [], ids)


def test_a_failure_of_the_core_on_the_lane_leaves_the_chunk_to_the_reference() -> None:
    # The lane's job reports that the core failed (a panic it caught): nothing was
    # sealed or written, and the reference encodes the chunk with the same ids.
    pipeline = Pipeline(redactor=REDACTOR, caps=Caps(), session_ids="hash", session_key=KEY)

    class FailedJob:
        def done(self) -> bool:
            return True

        def finish(self) -> Any:
            raise RuntimeError("the core failed on this batch")

    class Failing:
        def start_grouped(self, *args: Any) -> FailedJob:
            return FailedJob()

    pipeline._native = Failing()
    raws, ids = _plain_batch_and_ids()
    assert _lane_lines(pipeline, raws, ids) == _reference_lines(pipeline, raws, ids)


def test_a_chain_the_reference_seals_leaves_the_chunk_to_the_reference_on_the_lane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipeline = Pipeline(redactor=REDACTOR, caps=Caps(), session_ids="hash", session_key=KEY)
    raws, ids = _plain_batch_and_ids()
    expected = _lane_lines(pipeline, raws, ids)
    monkeypatch.setattr(Pipeline, "prepare_core", lambda self, raws, chain_for: None)
    lines = _lane_lines(pipeline, raws, ids)
    assert isinstance(lines, list)
    assert [orjson.loads(line)["i"] for line in lines] == [0, 1, 2, 3]
    assert isinstance(expected, tuple)
    assert len(expected[0]) == 3  # the core's: one group per category


def test_a_core_without_the_lane_leaves_the_writer_to_its_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipeline = Pipeline(redactor=REDACTOR, caps=Caps(), session_ids="hash", session_key=KEY)
    lane = CoreLane.open(pipeline)
    assert lane is not None
    lane.close()

    class OldCore:  # a core built before the lane: no start_grouped
        pass

    class OldModule:  # nor Lane
        pass

    class Module:
        Lane = _module.Lane if _module is not None else None
        LANE = 2

    class OneJobAtATime:  # a lane that did not carry the chains from job to job
        Lane = Module.Lane

    monkeypatch.setattr(Pipeline, "core", property(lambda self: OldCore()))
    assert CoreLane.open(pipeline) is None
    monkeypatch.setattr(Pipeline, "core", property(lambda self: None))
    assert CoreLane.open(pipeline) is None
    monkeypatch.undo()
    monkeypatch.setattr(Pipeline, "core_module", property(lambda self: OldModule))
    assert CoreLane.open(pipeline) is None
    monkeypatch.setattr(Pipeline, "core_module", property(lambda self: None))
    assert CoreLane.open(pipeline) is None
    monkeypatch.setattr(Pipeline, "core_module", property(lambda self: OneJobAtATime))
    assert CoreLane.open(pipeline) is None
    monkeypatch.setattr(Pipeline, "core_module", property(lambda self: Module))
    opened = CoreLane.open(pipeline)
    assert opened is not None
    opened.close()


def test_two_categories_sealed_into_one_stream_are_numbered_in_batch_order() -> None:
    pipeline = PIPELINES[0]
    raws, ids = _plain_batch_and_ids()
    shared = Chain(KEY, stream_id="shared")
    out = pipeline._encode_grouped(raws, lambda c: shared, len(raws), ids)
    assert isinstance(out, tuple)
    reference = Chain(KEY, stream_id="shared")
    expected = [pipeline.encode(raw, reference, event_id=ids[i]) for i, raw in enumerate(raws)]
    assert out[0] == _grouped(raws, expected, len(raws))
    assert shared.last.seq == reference.last.seq == 4
    assert shared.last.mac == reference.last.mac
