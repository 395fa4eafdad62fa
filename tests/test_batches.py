"""The writer's encoded batch: each line placed under its category with the batch's
counts, and where each category's chain stands once the batch is encoded."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import orjson

from asgi_audit.proof.integrity import Chain
from asgi_audit.record.encoding import Caps
from asgi_audit.record.events import RawEvent
from asgi_audit.record.pipeline import Pipeline
from asgi_audit.record.redaction import Redactor
from asgi_audit.store.batches import SLICE, Encoded, encode_in_thread, encode_on_loop


def _raw(category: str, *, durable: bool = False) -> RawEvent:
    return RawEvent(category, "tick", None, 1, None, {}, None, durable)


def test_lines_go_to_their_category_with_the_first_seq_and_the_real_count() -> None:
    encoded = Encoded(base=10, real=3)  # the 4th event is an events_dropped line
    for offset, category in enumerate(["auth", "api_audit", "auth", "auth"]):
        encoded.place(offset, _raw(category), f"{category}-{offset}\n".encode())
    assert encoded.lines == {
        "auth": [b"auth-0\n", b"auth-2\n", b"auth-3\n"],
        "api_audit": [b"api_audit-1\n"],
    }
    assert encoded.first_seq == {"auth": 10, "api_audit": 11}
    assert encoded.real_count == {"auth": 2, "api_audit": 1}
    assert encoded.durable is False


def test_one_durable_event_makes_the_batch_durable() -> None:
    encoded = Encoded(base=1, real=3)
    encoded.place(0, _raw("auth"), b"a\n")
    assert encoded.durable is False
    encoded.place(1, _raw("auth", durable=True), b"b\n")
    encoded.place(2, _raw("auth"), b"c\n")
    assert encoded.durable is True


def test_close_notes_where_each_sealed_category_stands() -> None:
    encoded = Encoded(base=1, real=2)
    encoded.place(0, _raw("auth"), b"a\n")
    encoded.place(1, _raw("custom"), b"b\n")
    chain = Chain(b"k" * 32)
    chain.seal(b'{"a":1,"stream":"x","seq":1}\n')
    encoded.close({"auth": chain})
    assert encoded.ends == {"auth": chain.end(), "custom": None}
    assert encoded.ends["auth"] is not None
    assert encoded.ends["auth"].seq == 1


def test_close_without_a_proof_leaves_every_category_unsealed() -> None:
    encoded = Encoded(base=1, real=1)
    encoded.place(0, _raw("auth"), b"a\n")
    encoded.close(None)
    assert encoded.ends == {"auth": None}


def _batch() -> list[RawEvent]:
    # Three chunks of the core: the first grouped; the second given back line by
    # line (text outside ASCII that redaction reads), with a category first seen
    # there; the third grouped, with another category first seen there, and past
    # ``real`` (events_dropped lines).
    raws = []
    for i in range(2600):
        if i < 1024:
            category = ("auth", "custom", "api_audit")[i % 3]
        elif i < 2048:
            category = "injection" if i % 5 == 0 else ("auth", "api_audit")[i % 2]
        else:
            category = "tool_blocks" if i % 7 == 0 else "api_audit"
        note = f"café password=hunter{i}" if 1024 <= i < 2048 and i % 97 == 50 else f"n {i}"
        time_ns = 1_700_000_000_000_000_000 + i
        raws.append(RawEvent(category, "tick", None, time_ns, None, {"note": note}, None, i == 500))
    return raws


REAL = 1500


def _encoded(batch: list[RawEvent], *, on_loop: bool) -> Encoded:
    # The batch encoded by the writer's thread (the core, when installed) or on the
    # loop (the reference), each with its own chains of the same streams and ids.
    pipeline = Pipeline(redactor=Redactor(), caps=Caps(), session_ids="hash", session_key=b"k" * 32)
    chains = {c: Chain(b"k" * 32, stream_id=f"s-{c}") for c in ("auth", "api_audit")}
    chains["api_audit"].seal(b'{"x":1}\n')  # one stream already under way
    if on_loop:
        return anyio.run(encode_on_loop, pipeline, batch, 100, REAL, chains.get, chains)
    return encode_in_thread(pipeline, batch, 100, REAL, chains.get, chains)


def test_the_threads_batch_is_the_loops_batch() -> None:
    # Two chunks of the core (the first with events given back to the reference),
    # categories first seen in the second chunk, events_dropped lines past ``real``:
    # the same lines per category, counts, first sequence numbers, real counts,
    # durability and chain ends as the reference encoding on the loop.
    batch = _batch()
    threaded, looped = _encoded(batch, on_loop=False), _encoded(batch, on_loop=True)
    # The ids are drawn at random, and the MACs cover them: the rest of each line
    # is the same (the core's lines are held byte for byte to the reference's,
    # ids given, in tests/test_native_pipeline.py).
    assert _without_ids(threaded) == _without_ids(looped)
    assert threaded.count == looped.count
    assert sum(threaded.count.values()) == len(batch)
    first: dict[str, int] = {}
    for offset, raw in enumerate(batch):
        first.setdefault(raw.category, 100 + offset)
    assert threaded.first_seq == looped.first_seq == first
    real = {c: sum(1 for r in batch[:REAL] if r.category == c) for c in first}
    assert threaded.real_count == looped.real_count == real
    assert threaded.durable is looped.durable is True
    assert _at(threaded) == _at(looped)
    assert _at(threaded)["custom"] is None
    assert _at(threaded)["api_audit"] == ("s-api_audit", 1 + threaded.count["api_audit"])


def _without_ids(encoded: Encoded) -> dict[str, list[dict[str, object]]]:
    events = {}
    for category, pieces in encoded.lines.items():
        lines = [orjson.loads(line) for line in b"".join(pieces).splitlines()]
        for event in lines:
            del event["event_id"]
            event.pop("mac", None)
        events[category] = lines
    return events


def _at(encoded: Encoded) -> dict[str, tuple[str, int] | None]:
    return {c: None if end is None else (end.stream, end.seq) for c, end in encoded.ends.items()}


def test_the_reference_lets_the_loop_run_between_slices(monkeypatch: Any) -> None:
    # On the loop, the reference encodes SLICE events between two checkpoints,
    # so that requests interleave with a large batch.
    calls: list[None] = []

    async def checkpoint() -> None:
        calls.append(None)

    monkeypatch.setattr(anyio.lowlevel, "checkpoint", checkpoint)
    pipeline = Pipeline(redactor=None, caps=Caps(), session_ids="raw", session_key=b"k" * 32)
    for size, checkpoints in ((SLICE, 0), (SLICE + 1, 1), (3 * SLICE + 5, 3)):
        calls.clear()
        batch = [_raw("auth") for _ in range(size)]
        encoded = anyio.run(encode_on_loop, pipeline, batch, 1, size, lambda c: None, None)
        assert encoded.count == {"auth": size}
        assert len(calls) == checkpoints
