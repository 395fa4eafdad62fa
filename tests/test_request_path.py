"""The request path's shortcuts give what the plain forms give.

The middleware builds its context with ``build_context``, replaces fields with
``RequestContext.replace``, keeps the client address per peer, hands out request
ids made ahead in batches, tells excluded paths by name, and adds its header to a
response start without copying what needs no copy. Each is checked here against
the form it stands for.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Message

from asgi_audit import AuditMiddleware, Auditor, RequestContext
from asgi_audit.record.context import ContextCell, build_context, current_cell
from asgi_audit.record.engine import compiled_module
from asgi_audit.store.batches import HANDOFF
from asgi_audit.web import incoming
from asgi_audit.web.dependencies import RequestAudit
from asgi_audit.web.exchange import HttpExchange
from asgi_audit.web.middleware import valid_request_id
from asgi_audit.web.proxies import REJECTED_CHARS, TrustedProxies, client_address

from .helpers import read_events

NAMES = tuple(field.name for field in dataclasses.fields(RequestContext))


def _every_field() -> dict[str, str]:
    return {name: f"value of {name}" for name in NAMES}


def test_build_context_equals_the_dataclass_built_by_name() -> None:
    values = _every_field()
    built = build_context(*values.values())
    assert type(built) is RequestContext
    assert built == RequestContext(**values)
    assert dataclasses.asdict(built) == values
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.user_id = "someone else"  # type: ignore[misc]


@pytest.mark.parametrize("name", NAMES)
def test_replace_changes_one_field_as_dataclasses_replace_does(name: str) -> None:
    context = RequestContext(**_every_field())
    assert context.replace(**{name: "new"}) == dataclasses.replace(context, **{name: "new"})
    assert context.replace(**{name: None}) == dataclasses.replace(context, **{name: None})


def test_replace_leaves_the_original_and_takes_several_fields() -> None:
    context = RequestContext(ip_address="192.0.2.1", request_id="r" * 16)
    changed = context.replace(user_id="alice", agent_id="agent-7")
    assert changed == RequestContext(
        ip_address="192.0.2.1", request_id="r" * 16, user_id="alice", agent_id="agent-7"
    )
    assert context.user_id is None
    assert context.agent_id is None
    assert context.replace() == context
    assert context.replace() is not context


def test_replace_refuses_a_name_that_is_no_field() -> None:
    with pytest.raises(TypeError, match="no_such_field"):
        RequestContext().replace(no_such_field="x")


def test_replace_on_a_subclass_keeps_the_subclass() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Tagged(RequestContext):
        tag: str | None = None

    changed = Tagged(tag="t").replace(user_id="bob")
    assert type(changed) is Tagged
    assert changed.tag == "t"
    assert changed.user_id == "bob"


def test_the_scope_entry_is_the_request_cell() -> None:
    context = RequestContext(request_id="r" * 16)
    entry = RequestAudit(object(), context)  # type: ignore[arg-type]
    assert isinstance(entry, ContextCell)
    assert entry.cell is entry
    assert entry.context is context
    assert entry.roles == ()


def test_new_request_ids_are_distinct_and_valid() -> None:
    ids = [incoming.new_request_id() for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    assert all(len(new) == 32 and valid_request_id(new) for new in ids)
    assert all(int(new, 16) >= 0 for new in ids)


# Run in a process of its own: one thread, so the fork is safe.
_FORK_CHECK = """
import os
from asgi_audit.web import incoming
incoming.new_request_id()
ahead = set(incoming._ids)
assert ahead
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, incoming.new_request_id().encode())
    os._exit(0)
os.close(write)
child = os.read(read, 100).decode()
os.waitpid(pid, 0)
assert incoming.valid_request_id(child), child
assert child not in ahead
print("ok")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_ids_made_ahead_in_a_parent_are_never_handed_out_by_its_child() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FORK_CHECK], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _scope(peer: str | None) -> dict[str, Any]:
    return {
        "type": "http",
        "path": "/",
        "method": "GET",
        "headers": [(b"x-forwarded-for", b"198.51.100.9")],
        "client": None if peer is None else (peer, 1234),
    }


@pytest.mark.parametrize(
    "peer",
    ["192.0.2.10", "2001:DB8::7", "::ffff:10.0.0.1", "testclient", "x" * 200, None],
)
def test_the_client_address_kept_per_peer_equals_the_one_worked_out(
    tmp_path: Path, peer: str | None
) -> None:
    audit = AuditMiddleware(_ok, auditor=Auditor(log_dir=tmp_path))
    expected = client_address(TrustedProxies(), peer, ["198.51.100.9"])
    for _ in range(3):  # worked out, then kept (or not, for long text)
        context = audit._context(_scope(peer))
        assert (context.ip_address, context.ip_address_rejected) == expected
    if peer is not None and len(peer) > REJECTED_CHARS:
        assert peer not in audit._reader._peers


def test_the_peers_kept_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(incoming, "_PEERS_KEPT", 8)
    audit = AuditMiddleware(_ok, auditor=Auditor(log_dir=tmp_path))
    for last in range(50):
        audit._context(_scope(f"192.0.2.{last}"))
        assert len(audit._reader._peers) <= 8


def test_trusted_proxies_are_not_served_from_the_peer_cache(tmp_path: Path) -> None:
    audit = AuditMiddleware(_ok, auditor=Auditor(log_dir=tmp_path), trusted_proxies=["192.0.2.10"])
    assert audit._context(_scope("192.0.2.10")).ip_address == "198.51.100.9"
    assert audit._context(_scope("192.0.2.11")).ip_address == "192.0.2.11"
    assert not audit._reader._peers


@pytest.mark.parametrize(
    ("exclude", "path", "selected"),
    [
        (("/health",), "/health", False),
        (("/health",), "/health/", True),
        (("/health",), "/Health", True),
        (("/health", "/admin/*"), "/admin/users", False),
        (("/health", "/admin/*"), "/health", False),
        (("/a?c",), "/abc", False),
        (("/[ab]",), "/a", False),
        (("/[ab]",), "/[ab]", True),
        ((), "/health", True),
    ],
)
def test_exclude_patterns_with_and_without_wildcards(
    tmp_path: Path, exclude: tuple[str, ...], path: str, selected: bool
) -> None:
    audit = AuditMiddleware(_ok, auditor=Auditor(log_dir=tmp_path), exclude=exclude)
    assert audit._selected(path) is selected


async def _ok(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never run
    raise AssertionError("not called")


async def _start(headers: Any) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:  # pragma: no cover - not called
        raise AssertionError("not called")

    exchange = HttpExchange(
        receive, send, (b"x-request-id", b"r" * 16), 0, None, ContextCell(RequestContext())
    )
    await exchange.send({"type": "http.response.start", "status": 200, "headers": headers})
    assert exchange.status == 200
    return sent


async def test_the_request_id_header_is_added_to_a_copy_of_the_start_message() -> None:
    headers = [(b"content-type", b"text/plain")]
    message = {"type": "http.response.start", "status": 200, "headers": headers}
    sent: list[Message] = []

    async def send(out: Message) -> None:
        sent.append(out)

    async def receive() -> Message:  # pragma: no cover - not called
        raise AssertionError("not called")

    exchange = HttpExchange(
        receive, send, (b"x-request-id", b"r" * 16), 0, None, ContextCell(RequestContext())
    )
    await exchange.send(message)
    await exchange.send(message)  # the same message again, as an app may send it
    for out in sent:
        assert out["headers"] == [*headers, (b"x-request-id", b"r" * 16)]
    assert message["headers"] == [(b"content-type", b"text/plain")]


async def test_the_last_message_is_sent_without_the_cell_and_the_cell_is_back_after() -> None:
    # A server schedules its keep-alive timer inside the last send, and the timer
    # keeps a copy of the context until its time: the cell must not be in it. A
    # chunk before the last, and whatever runs after it (background tasks), see it.
    cell = ContextCell(RequestContext(request_id="r" * 16))
    seen: list[tuple[str, bool]] = []

    async def send(message: Message) -> None:
        seen.append((message["type"], current_cell() is cell))

    async def receive() -> Message:  # pragma: no cover - not called
        raise AssertionError("not called")

    exchange = HttpExchange(receive, send, (b"x-request-id", b"r" * 16), 0, None, cell)
    assert current_cell() is None
    exchange.enter()
    try:
        await exchange.send({"type": "http.response.start", "status": 200, "headers": []})
        await exchange.send({"type": "http.response.body", "body": b"a", "more_body": True})
        await exchange.send({"type": "http.response.body", "body": b"b"})
        assert current_cell() is cell
    finally:
        exchange.leave()
    assert current_cell() is None
    assert seen == [
        ("http.response.start", True),
        ("http.response.body", True),
        ("http.response.body", False),
    ]
    assert exchange.complete
    assert exchange.bytes_sent == 2


@pytest.mark.parametrize("last", [False, True], ids=["a-chunk", "the-last-message"])
async def test_a_client_gone_at_a_body_message_is_a_disconnect(last: bool) -> None:
    # ASGI 2.4: a server's send raises OSError once the client is gone.
    cell = ContextCell(RequestContext(request_id="r" * 16))

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("the client is gone")

    async def receive() -> Message:  # pragma: no cover - not called
        raise AssertionError("not called")

    exchange = HttpExchange(receive, send, (b"x-request-id", b"r" * 16), 0, None, cell)
    exchange.enter()
    try:
        await exchange.send({"type": "http.response.start", "status": 200, "headers": []})
        with pytest.raises(OSError, match="the client is gone"):
            await exchange.send({"type": "http.response.body", "body": b"a", "more_body": not last})
        assert current_cell() is cell
    finally:
        exchange.leave()
    assert exchange.disconnected is True
    assert exchange.complete is False
    assert exchange.bytes_sent == 1


@pytest.mark.parametrize("name", [b"x-request-id", b"X-Request-ID"])
async def test_the_apps_own_request_id_header_stands(name: bytes) -> None:
    sent = await _start([(name, b"the-apps-own-id")])
    assert list(sent[0]["headers"]) == [(name, b"the-apps-own-id")]


async def test_headers_given_as_a_one_shot_iterable_are_read_once() -> None:
    sent = await _start(iter([(b"content-type", b"text/plain")]))
    assert sent[0]["headers"] == [(b"content-type", b"text/plain"), (b"x-request-id", b"r" * 16)]
    sent = await _start(item for item in [(b"x-request-id", b"own-id-1234")])
    assert sent[0]["headers"] == [(b"x-request-id", b"own-id-1234")]


# ------------------------------------------------------------------ event methods


def _reference_snapshot(value: Any, depth: int = 8) -> Any:
    # The copy the methods made before their shortcuts, written out plainly.
    if depth <= 0:
        return value
    if type(value) is dict:
        return {k: _reference_snapshot(v, depth - 1) for k, v in value.items()}
    if type(value) in (list, tuple, set, frozenset):
        return [_reference_snapshot(v, depth - 1) for v in value]
    return value


def _nested(depth: int) -> Any:
    value: Any = ["leaf", 1]
    for level in range(depth):
        value = {"level": level, "below": value, "also": (level, [level])}
    return value


@pytest.mark.parametrize(
    "value",
    [
        {"flat": 1, "text": "x"},
        {"list": [1, 2], "tuple": (3, 4), "set": {5}, "frozen": frozenset({6})},
        [1, "two", 3.0],
        (1, [2, [3]]),
        {"deep": _nested(12)},
        _nested(3),
        "not a container",
        None,
    ],
)
def test_the_snapshot_copies_as_the_plain_form_does(value: Any) -> None:
    from asgi_audit.record.capture import snapshot

    copied = snapshot(value)
    assert copied == _reference_snapshot(value)
    # Copies at every level the plain form copies, shared leaves below it.
    if type(value) in (dict, list, tuple, set, frozenset):
        assert copied is not value


async def test_every_method_records_extras_then_its_fields_then_details(tmp_path: Path) -> None:
    from asgi_audit.testing import capture_events

    auditor = Auditor(log_dir=tmp_path, self_audit=False)
    details: dict[str, Any] = {"attempts": [1], "flat": "x"}
    tags = ["a"]
    extra: dict[str, Any] = {"tags": tags, "zone": "eu"}
    async with auditor:
        with capture_events(auditor) as captured:
            await auditor.login_attempt(
                "failed", user_id="u", error_message="no", details=details, **extra
            )
            await auditor.tool_blocked(tool_name="bash", blocked_path="/etc", details=details)
            auditor.sync.logout(user_id="u", details=details, **extra)
            await auditor.api_access(method="GET", request_path="/x", status_code=200)
            details["attempts"].append(2)
            details["later"] = True
            tags.append("b")
    login, tool, logout, access = captured.events
    assert [k for k in login if k in {"tags", "zone", "user_id", "error_message", "details"}] == [
        "tags",
        "zone",
        "user_id",
        "error_message",
        "details",
    ]
    for event in (login, tool, logout):
        assert event["details"] == {"attempts": [1], "flat": "x"}
    assert login["tags"] == ["a"]
    assert logout["tags"] == ["a"]
    assert "details" not in access
    assert access["outcome"] == "success"


async def _answer_ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _no_message() -> Message:
    return {"type": "http.disconnect"}


@pytest.mark.anyio
async def test_requests_that_never_yield_are_handed_to_the_writer_as_they_go(
    tmp_path: Path,
) -> None:
    # Sequential requests on an app whose receive and send never suspend: the
    # loop never runs between them unless the middleware lets it.
    auditor = Auditor(log_dir=tmp_path, self_audit=False, queue_capacity=20_000)
    app = AuditMiddleware(_answer_ok, auditor=auditor)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async with auditor:
        stream = auditor._runtime.stream if auditor._runtime else None
        assert stream is not None
        native = bool(stream.handoff)
        assert native == (compiled_module() is not None)
        for i in range(3_000):
            scope = {**_scope("192.0.2.10"), "path": f"/items/{i}"}
            await app(scope, _no_message, send)
        queued = auditor.stats()["queued"]
        # On the core the writer takes batches to its thread as requests hand off
        # (every HANDOFF; the first hand-off lets the writer, woken by the first
        # record, take what is queued); on the reference the records wait for the end.
        if native:
            assert stream.taken >= HANDOFF
            assert queued < 3_000
        else:
            assert (stream.taken, queued) == (0, 3_000)
    assert len(sent) == 6_000
    events = read_events(tmp_path / "api-audit.jsonl")
    assert [e["request_path"] for e in events] == [f"/items/{i}" for i in range(3_000)]
