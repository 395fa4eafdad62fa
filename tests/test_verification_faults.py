"""The verifier fed lines and checkpoint records whose fields no writer writes.

Whoever can write the log directory can plant a line or a record of any shape;
without a key they can even seal it and sign it. The pure
:class:`~asgi_audit.proof.verification.Verifier` must name each as a break where
it is (``modified`` for a line, ``bad checkpoint`` for a record), go on with the
rest, and never raise. Real sealed lines come from the library's own
:class:`~asgi_audit.proof.integrity.Chain`; the end-to-end cases (real files, the
real command) are in ``test_hostile_files.py``.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
import pytest

from asgi_audit.proof.findings import (
    Line,
    State,
    StreamSummary,
    ends_named_elsewhere,
    is_stream_id,
    line_fault,
    prev_fault,
)
from asgi_audit.proof.integrity import (
    Chain,
    Sealed,
    chain_root,
    compute_mac,
    derive_chain_key,
)
from asgi_audit.proof.verification import Break, Verifier
from asgi_audit.record.encoding import encode_line

KEY: Final = derive_chain_key(b"verification-faults-key-0123456789")
FILE: Final = "hostile.jsonl"
STREAM: Final = "0123456789abcdef"
OTHER: Final = "fedcba9876543210"
MAC_HEX: Final = "ab" * 32


def sealed_lines(count: int, key: bytes | None = KEY, prev: Sealed | None = None) -> list[bytes]:
    """``count`` genuine lines of one new stream, sealed by the library's chain."""
    chain = Chain(key, prev=prev)
    lines = []
    for n in range(count):
        event: dict[str, Any] = {"event_type": "genuine", "n": n}
        chain.stamp(event)
        lines.append(chain.seal(encode_line(event)).rstrip(b"\n"))
    return lines


def seal(event: dict[str, Any], previous: bytes, key: bytes | None = KEY) -> bytes:
    """One line of ``event`` with a MAC that holds (chained to ``previous``)."""
    body = orjson.dumps(event)
    mac = compute_mac(key, previous, body)
    label = "hmac-sha256" if key else "sha256"
    return body[:-1] + f',"mac":"{label}:{mac.hex()}"}}'.encode()


def crafted(**fields: Any) -> bytes:
    """A line with any fields, sealed as the first line of a stream when it can be."""
    event = {"event_type": "crafted", **fields}
    stream = fields.get("stream")
    root = chain_root(KEY, stream) if is_stream_id(stream) else b"\0" * 32
    return seal(event, root)


def run(lines: list[bytes]) -> list[Break]:
    verifier = Verifier(KEY)
    for number, line in enumerate(lines, start=1):
        verifier.feed(FILE, number, line)
    return verifier.finish()[1]


def places(breaks: list[Break]) -> list[tuple[str, int, str]]:
    return [(b.file, b.line, b.kind) for b in breaks]


# --- lines ------------------------------------------------------------------------------

BAD_STREAMS: Final = [
    pytest.param([1, 2], id="list"),
    pytest.param({"a": 1}, id="dict"),
    pytest.param(None, id="null"),
    pytest.param(True, id="bool"),
    pytest.param(12345, id="int"),
    pytest.param("", id="empty"),
    pytest.param("0123456789ABCDEF", id="upper-hex"),
    pytest.param("0123456789abcde", id="15-hex"),
    pytest.param("0123456789abcdef0", id="17-hex"),
    pytest.param("not a stream id!", id="text"),
    pytest.param("é" * 16, id="non-ascii"),
    pytest.param("٠١٢٣٤٥٦٧٨٩abcdef", id="arabic-indic-digits"),
    pytest.param("０１２３４５６７８９abcdef", id="fullwidth-digits"),
    pytest.param("0123456789abcdef\n", id="newline"),
]
BAD_SEQS: Final = [
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param(0, id="zero"),
    pytest.param(-1, id="negative"),
    pytest.param(-(2**63), id="int64-min"),
    pytest.param(1.0, id="float"),
    pytest.param(1.5, id="fraction"),
    pytest.param("1", id="string"),
    pytest.param([1], id="list"),
    pytest.param({"seq": 1}, id="dict"),
    pytest.param(None, id="null"),
]


def between_genuine(bad: bytes) -> tuple[list[bytes], list[tuple[str, int, str]]]:
    """A genuine stream of 4 lines with ``bad`` planted after its 2nd line, and a
    genuine break (the 4th line's body edited) the verifier must still find."""
    genuine = sealed_lines(4)
    edited = genuine[3].replace(b'"n":3', b'"n":7')
    assert edited != genuine[3]
    lines = [genuine[0], genuine[1], bad, genuine[2], edited]
    return lines, [(FILE, 3, "modified"), (FILE, 5, "modified")]


@pytest.mark.parametrize("stream", BAD_STREAMS)
def test_a_stream_that_is_not_a_stream_id_is_a_modified_line(stream: object) -> None:
    bad = crafted(stream=stream, seq=1)
    lines, expected = between_genuine(bad)
    breaks = run(lines)
    assert places(breaks) == expected
    assert breaks[0].detail == "its stream is not a stream id (16 hex digits)"
    assert breaks[0].stream is None


@pytest.mark.parametrize("seq", BAD_SEQS)
def test_a_seq_that_is_not_a_whole_number_from_1_is_a_modified_line(seq: object) -> None:
    bad = crafted(stream=STREAM, seq=seq)
    lines, expected = between_genuine(bad)
    breaks = run(lines)
    assert places(breaks) == expected
    assert breaks[0].detail == "its seq is not a whole number from 1"


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"prev_stream": [1]}, "its prev_stream is not a stream id (16 hex digits)"),
        ({"prev_stream": {"a": 1}}, "its prev_stream is not a stream id (16 hex digits)"),
        ({"prev_stream": 7}, "its prev_stream is not a stream id (16 hex digits)"),
        ({"prev_stream": None}, "its prev_stream is not a stream id (16 hex digits)"),
        ({"prev_stream": "XYZ"}, "its prev_stream is not a stream id (16 hex digits)"),
        ({"prev_stream": OTHER, "prev_seq": "3"}, "its prev_seq is not a whole number"),
        ({"prev_stream": OTHER, "prev_seq": "x"}, "its prev_seq is not a whole number"),
        ({"prev_stream": OTHER, "prev_seq": 2.5}, "its prev_seq is not a whole number"),
        ({"prev_stream": OTHER, "prev_seq": True}, "its prev_seq is not a whole number"),
        ({"prev_stream": OTHER, "prev_seq": {"a": 1}}, "its prev_seq is not a whole number"),
        ({"prev_stream": OTHER, "prev_seq": [1]}, "its prev_seq is not a whole number"),
        ({"prev_stream": OTHER, "prev_seq": -1}, "its prev_seq is not a whole number"),
        ({"prev_stream": OTHER, "prev_seq": None}, "its prev_seq is not a whole number"),
        ({"prev_stream": OTHER, "prev_seq": 1, "prev_mac": 5}, "its prev_mac is not text"),
        ({"prev_stream": OTHER, "prev_seq": 1, "prev_mac": [1]}, "its prev_mac is not text"),
    ],
)
def test_a_malformed_prev_field_is_a_modified_first_line_and_its_stream_goes_on(
    fields: dict[str, Any], detail: str
) -> None:
    # A first line (sealed, so its MAC holds) that names where "the previous
    # stream" ended with fields of the wrong type; its stream's next line follows.
    first = crafted(stream=STREAM, seq=1, **fields)
    second = seal(
        {"event_type": "crafted", "stream": STREAM, "seq": 2},
        bytes.fromhex(first[-66:-2].decode()),
    )
    genuine = sealed_lines(3)
    edited = genuine[2].replace(b'"n":2', b'"n":9')
    breaks = run([*genuine[:2], edited, first, second])
    assert places(breaks) == [(FILE, 3, "modified"), (FILE, 4, "modified")]
    assert breaks[1].detail == detail
    assert breaks[1].stream == STREAM


def test_well_formed_prev_fields_still_name_a_cut_previous_stream() -> None:
    # The control: the same first line with good fields says the previous stream
    # reached seq 5, which its lines do not: "truncated", not "modified".
    previous = sealed_lines(2)
    prev_stream = orjson.loads(previous[0])["stream"]
    first = crafted(stream=STREAM, seq=1, prev_stream=prev_stream, prev_seq=5, prev_mac="x:00")
    breaks = run([*previous, first])
    assert places(breaks) == [(FILE, 2, "truncated")]


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b'[1,"mac":"hmac-sha256:' + MAC_HEX.encode() + b'"}', id="not-json"),
        pytest.param(b'{"seq":1,"mac":"hmac-sha256:' + MAC_HEX.encode() + b'"}', id="no-stream"),
        pytest.param(b'{"stream":"' + STREAM.encode() + b'","mac":"sha256:' + MAC_HEX.encode()
                     + b'"}', id="no-seq"),
        pytest.param(b"\x00" * 100, id="nul-bytes"),
        pytest.param(b'{"stream":"' + STREAM.encode() + b'","seq":1,"mac":"hmac-sha256:'
                     + MAC_HEX.upper().encode() + b'"}', id="upper-mac"),
    ],
)  # fmt: skip
def test_lines_that_are_no_sealed_event_are_modified(line: bytes) -> None:
    lines, expected = between_genuine(line)
    assert places(run(lines)) == expected


# --- the pure helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (STREAM, True),
        ("ffffffffffffffff", True),
        ("0123456789ABCDEF", False),
        ("0123456789abcdeg", False),
        ("0123456789abcdef\n", False),
        ("٠١٢٣٤٥٦٧٨٩abcdef", False),
        (b"0123456789abcdef", False),
        ([STREAM], False),
        (None, False),
    ],
)
def test_is_stream_id(value: object, ok: bool) -> None:
    assert is_stream_id(value) is ok


def test_the_faults_of_well_formed_fields_are_none() -> None:
    assert line_fault(STREAM, 1) is None
    assert line_fault(STREAM, 2**63) is None
    assert prev_fault({"prev_stream": OTHER}) is None
    assert prev_fault({"prev_stream": OTHER, "prev_seq": 0, "prev_mac": ""}) is None


def test_ends_named_elsewhere_skips_what_it_cannot_compare() -> None:
    # Malformed inputs, as a caller that did not check them would pass them.
    state = State(StreamSummary(STREAM, last_seq=2), 3, b"", started=True)
    state.last = Line(FILE, 2, 2, b"{}", b"\0" * 32)
    streams = {STREAM: state}
    checkpoints: list[tuple[str, int, dict[str, Any]]] = [
        ("checkpoints.log", 1, {"stream": STREAM, "seq": True}),
        ("checkpoints.log", 2, {"stream": [STREAM], "seq": 9}),
        ("checkpoints.log", 3, {"stream": STREAM, "seq": "9"}),
    ]
    item = Line(FILE, 3, 1, b"{}", b"\0" * 32)
    refs: list[Any] = [
        (item, state, [STREAM], 9, "x:00"),
        (item, state, {"a": 1}, 9, "x:00"),
        (item, state, STREAM, "9", "x:00"),
        (item, state, STREAM, 9, None),
    ]
    assert ends_named_elsewhere(checkpoints, streams, {}, refs) == []
    # The same with well-formed values: both are found.
    found = ends_named_elsewhere(
        [("checkpoints.log", 1, {"stream": STREAM, "seq": 9})],
        streams,
        {},
        [(item, state, STREAM, 9, "x:00")],
    )
    assert [b.kind for b in found] == ["truncated", "truncated"]
