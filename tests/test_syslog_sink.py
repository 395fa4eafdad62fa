"""The syslog sink: RFC 5424 formatting, and delivery to a real rsyslogd over TCP, TLS and RELP.

The pure helpers are checked by example and with hypothesis (the octet count is
the byte length, the structured data parses back to the values). Delivery runs
against a real ``rsyslogd`` started per test (see :mod:`tests.rsyslog`), whose
``%msg%`` output must be the audit lines byte for byte, in order. A small RELP
server in a thread stands in for what rsyslog cannot be made to do on demand:
refuse one message. Waits are bounded polls (a hang guard); nothing asserts a
duration.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_audit.record.encoding import encode_line
from asgi_audit.sinks import Sink
from asgi_audit.sinks.relp import MAX_TXNR, RelpClient, RelpError, next_txnr, relp_frame
from asgi_audit.sinks.syslog import (
    SD_ID,
    SyslogSink,
    escape_sd_value,
    format_rfc5424,
    frame_octet_counted,
    severity_for_outcome,
)
from tests.rsyslog import RSYSLOGD, Rsyslog, TlsFiles, make_ca, make_tls_files, receive_queue_bytes

N_LINES: Final = 2_000
BATCH: Final = 100
DEADLINE: Final = 60.0  # a bound on a wait for rsyslogd or a sending thread, never an assertion
WINDOW: Final = 128  # RelpClient's default window
OUTCOMES: Final = ("success", "failed", "blocked", "denied", "rate_limited", "error", "received")
CATEGORIES: Final = {
    "login_attempt": "auth",
    "injection_attempt": "injection",
    "tool_path_blocked": "tool_blocks",
    "api_access": "api_audit",
}

needs_rsyslogd = pytest.mark.skipif(
    RSYSLOGD is None, reason="rsyslogd is not installed (apt-get install rsyslog)"
)
e2e = [pytest.mark.e2e, needs_rsyslogd]


# --- audit lines -------------------------------------------------------------------------


def make_lines(count: int, *, start: int = 0) -> list[bytes]:
    """Real-looking audit lines, encoded as the writer does (U+2028 escaped, one ``\\n``)."""
    base = datetime(2026, 11, 28, 10, 36, 10, 13657, tzinfo=timezone.utc)
    lines = []
    for i in range(start, start + count):
        stamp = base + timedelta(milliseconds=i)
        event_type = list(CATEGORIES)[i % len(CATEGORIES)]
        event = {
            "timestamp": stamp.isoformat(timespec="microseconds"),
            "epoch_ms": int(stamp.timestamp() * 1000),
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "category": CATEGORIES[event_type],
            "outcome": OUTCOMES[i % len(OUTCOMES)],
            "schema_version": 1,
            "ip_address": "127.0.0.1",
            "user_agent": "Mozilla/5.0 (ünïcødé; 日本語) ☃",
            "request_path": f"/items/{i}",
            "raw_input": 'ignore "previous" \\ instructions ] [x] \u2028 next\u2029 \x7f end',
            "details": {"seq": i, "emoji": "🔒", "tab": "a\tb", "nul": "\x00"},
        }
        lines.append(encode_line(event))
    return lines


def msg_of(line: bytes) -> bytes:
    return line[:-1]


def event_id_of(message: bytes) -> str:
    value = orjson.loads(message)["event_id"]
    assert isinstance(value, str)
    return value


def batches(lines: Sequence[bytes], size: int) -> list[Sequence[bytes]]:
    return [lines[i : i + size] for i in range(0, len(lines), size)]


# --- parsing what was formatted (the test's own RFC 5424 reader) -------------------------

HEADER_RE: Final = re.compile(
    rb"<(?P<pri>[0-9]{1,3})>1 (?P<timestamp>\S+) (?P<hostname>\S+) (?P<app>\S+) "
    rb"(?P<procid>\S+) (?P<msgid>\S+) "
)


def parse_rfc5424(message: bytes) -> dict[str, Any]:
    """Header fields, SD params (unescaped) and MSG of one message this sink formats."""
    match = HEADER_RE.match(message)
    assert match, message[:120]
    rest = message[match.end() :].decode("utf-8")
    assert rest.startswith("[" + SD_ID), rest[:80]
    i = 1 + len(SD_ID)
    params: dict[str, str] = {}
    while rest[i] == " ":
        eq = rest.index("=", i)
        name = rest[i + 1 : eq]
        assert rest[eq + 1] == '"'
        j, value = eq + 2, []
        while rest[j] != '"':
            if rest[j] == "\\" and rest[j + 1] in '"\\]':
                value.append(rest[j + 1])
                j += 2
            else:
                assert rest[j] != "]", "an unescaped ] inside a PARAM-VALUE"
                value.append(rest[j])
                j += 1
        params[name] = "".join(value)
        i = j + 1
    assert rest[i : i + 2] == "] ", rest[i : i + 20]
    fields = {k: v.decode("ascii") for k, v in match.groupdict().items()}
    return {**fields, "params": params, "msg": rest[i + 2 :].encode("utf-8")}


# --- pure helpers ------------------------------------------------------------------------


def test_format_of_a_readme_event() -> None:
    line = (
        b'{"timestamp":"2026-11-28T10:36:10.013657+00:00","epoch_ms":1795862170013,'
        b'"event_id":"01a221ba-099d-7a85-9b9a-2b001471fbdd","event_type":"login_attempt",'
        b'"category":"auth","outcome":"failed","schema_version":1,"user_id":"admin"}\n'
    )
    message = format_rfc5424(line, hostname="web-1", procid="4242")
    assert message == (
        b"<108>1 2026-11-28T10:36:10.013657+00:00 web-1 asgi_audit 4242 login_attempt "
        b'[asgi_audit@32473 category="auth" event_id="01a221ba-099d-7a85-9b9a-2b001471fbdd"] '
        + line[:-1]
    )
    assert frame_octet_counted(message) == b"%d %s" % (len(message), message)
    assert format_rfc5424(line, hostname="web-1", procid="1", bom=True).endswith(
        b"] \xef\xbb\xbf" + line[:-1]
    )


LEDGER_RECORD: Final = (
    b'{"n":17,"prev":"' + b"ab" * 32 + b'","type":"checkpoint",'
    b'"timestamp":"2026-11-28T10:36:10.020115+00:00","deployment":"0e036f2828a97c03",'
    b'"host":"web-1","pid":4242,"epoch":3,"reason":"interval","streams":{},'
    b'"sig":"ed25519:' + b"cd" * 64 + b'"}\n'
)


def test_format_of_a_ledger_record() -> None:
    # No event_type, category or event_id: MSGID ledger, the record's n and type.
    message = format_rfc5424(LEDGER_RECORD, hostname="web-1", procid="4242")
    assert message == (
        b"<110>1 2026-11-28T10:36:10.020115+00:00 web-1 asgi_audit 4242 ledger "
        b'[asgi_audit@32473 n="17" type="checkpoint"] ' + LEDGER_RECORD[:-1]
    )
    parsed = parse_rfc5424(message)
    assert parsed["params"] == {"n": "17", "type": "checkpoint"}
    assert parsed["msg"] == msg_of(LEDGER_RECORD)


@pytest.mark.parametrize(
    ("change", "replacement"),
    [
        (b'{"n":17,', b'{"event_id":"e-1","n":17,'),  # an event, whatever else it holds
        (b'{"n":17,', b'{"n":-1,'),
        (b'{"n":17,', b'{"n":true,'),
        (b'{"n":17,', b'{"n":"17",'),
        (b'"type":"checkpoint"', b'"type":7'),
        (b'"prev":"', b'"prev_":"'),
        (b'"sig":"', b'"mac":"'),
    ],
)
def test_only_a_ledger_record_gets_the_ledger_header(change: bytes, replacement: bytes) -> None:
    line = LEDGER_RECORD.replace(change, replacement)
    parsed = parse_rfc5424(format_rfc5424(line, hostname="h", procid="1"))
    assert parsed["msgid"] == "-"
    assert parsed["params"] == ({"event_id": "e-1"} if b"event_id" in line else {})
    assert parsed["pri"] == str(13 * 8 + 5)
    assert parsed["msg"] == msg_of(line)


def test_a_ledger_type_that_would_break_the_header_line_is_left_out() -> None:
    line = LEDGER_RECORD.replace(b'"type":"checkpoint"', b'"type":"a\\nb \\u2028"')
    parsed = parse_rfc5424(format_rfc5424(line, hostname="h", procid="1"))
    assert (parsed["msgid"], parsed["params"]) == ("ledger", {"n": "17"})


@pytest.mark.parametrize(
    ("outcome", "severity"),
    [
        ("blocked", 4),
        ("denied", 4),
        ("failed", 4),
        ("rate_limited", 4),
        ("error", 4),
        ("success", 6),
        ("requires_approval", 5),
        ("disconnected", 5),
        (None, 5),
        (3, 5),
    ],
)
def test_severity_follows_the_outcome(outcome: object, severity: int) -> None:
    assert severity_for_outcome(outcome) == severity
    line = orjson.dumps({"outcome": outcome})
    for facility in (0, 13, 23):
        message = format_rfc5424(line, hostname="h", procid="1", facility=facility)
        assert message.startswith(b"<%d>1 " % (facility * 8 + severity))


@pytest.mark.parametrize("facility", [-1, 24])
def test_facility_out_of_range_is_refused(facility: int) -> None:
    with pytest.raises(ValueError, match="facility"):
        format_rfc5424(b"{}\n", hostname="h", procid="1", facility=facility)
    with pytest.raises(ValueError, match="facility"):
        SyslogSink("127.0.0.1", 514, facility=facility)


@pytest.mark.parametrize(
    "timestamp",
    [
        None,
        17,
        "",
        "yesterday",
        "2026-13-28T10:36:10.013657+00:00",
        "2026-11-28T10:36:60+00:00",
        "2026-11-28 10:36:10+00:00",
        "2026-11-28T10:36:10.1234567+00:00",
        "2026-11-28T10:36:10",
    ],
)
def test_a_missing_or_invalid_timestamp_is_the_nilvalue(timestamp: object) -> None:
    parsed = parse_rfc5424(
        format_rfc5424(orjson.dumps({"timestamp": timestamp}), hostname="h", procid="1")
    )
    assert parsed["timestamp"] == "-"


@pytest.mark.parametrize(
    "timestamp",
    ["2026-11-28T10:36:10.013657+00:00", "2026-11-28T10:36:10Z", "2026-11-28T12:36:10.5+02:00"],
)
def test_a_valid_timestamp_is_kept(timestamp: str) -> None:
    parsed = parse_rfc5424(
        format_rfc5424(orjson.dumps({"timestamp": timestamp}), hostname="h", procid="1")
    )
    assert parsed["timestamp"] == timestamp


@pytest.mark.parametrize(
    ("event_type", "msgid"),
    [
        ("login_attempt", "login_attempt"),
        ("x" * 32, "x" * 32),
        ("x" * 33, "-"),
        ("sessión", "-"),
        ("with space", "-"),
        ("", "-"),
        (None, "-"),
        (["list"], "-"),
    ],
)
def test_msgid_is_the_event_type_when_it_fits(event_type: object, msgid: str) -> None:
    line = orjson.dumps({"event_type": event_type})
    assert parse_rfc5424(format_rfc5424(line, hostname="h", procid="1"))["msgid"] == msgid


def test_header_fields_are_printable_ascii_within_their_lengths() -> None:
    message = format_rfc5424(
        b"{}\n", hostname="höst name" + "h" * 300, app_name="a p\tp" + "a" * 60, procid="9" * 200
    )
    parsed = parse_rfc5424(message)
    assert parsed["hostname"] == ("h_st_name" + "h" * 300)[:255]
    assert parsed["app"] == ("a_p_p" + "a" * 60)[:48]
    assert parsed["procid"] == "9" * 128
    empty = parse_rfc5424(format_rfc5424(b"{}", hostname="", app_name="", procid=""))
    assert (empty["hostname"], empty["app"], empty["procid"]) == ("-", "-", "-")


@pytest.mark.parametrize("line", [b"not json\n", b"[1, 2]\n", b'"text"', b"\n", b"{}\n"])
def test_a_line_that_is_not_an_event_is_still_sent_whole(line: bytes) -> None:
    parsed = parse_rfc5424(format_rfc5424(line, hostname="h", procid="1"))
    assert parsed["msg"] == line.removesuffix(b"\n")
    assert (parsed["timestamp"], parsed["msgid"], parsed["params"]) == ("-", "-", {})
    assert parsed["pri"] == str(13 * 8 + 5)


def test_sd_values_are_escaped() -> None:
    assert escape_sd_value('a"b\\c]d[e=f') == 'a\\"b\\\\c\\]d[e=f'
    line = orjson.dumps({"category": 'x"]\\', "event_id": "]"})
    assert b'[asgi_audit@32473 category="x\\"\\]\\\\" event_id="\\]"] ' in format_rfc5424(
        line, hostname="h", procid="1"
    )


json_text = st.text(max_size=60)  # any code point but a surrogate
events = st.fixed_dictionaries(
    {
        "timestamp": st.datetimes(timezones=st.just(timezone.utc)).map(
            lambda d: d.isoformat(timespec="microseconds")
        ),
        "event_id": json_text,
        "event_type": json_text,
        "category": json_text,
        "outcome": st.sampled_from(OUTCOMES) | json_text,
    },
    optional={"details": st.dictionaries(json_text, json_text, max_size=4)},
)


@given(events, st.booleans())
def test_octet_count_is_the_byte_length_and_msg_is_the_line(
    event: dict[str, Any], bom: bool
) -> None:
    line = encode_line(event)
    message = format_rfc5424(line, hostname="h", procid="1", bom=bom)
    count, _, rest = frame_octet_counted(message).partition(b" ")
    assert int(count) == len(rest) == len(message)
    assert rest == message
    assert b"\n" not in message
    parsed = parse_rfc5424(message)
    assert parsed["msg"] == (b"\xef\xbb\xbf" if bom else b"") + msg_of(line)


UNSAFE_IN_SD: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@given(events)
def test_structured_data_parses_back_to_the_values(event: dict[str, Any]) -> None:
    parsed = parse_rfc5424(format_rfc5424(encode_line(event), hostname="h", procid="1"))
    assert parsed["params"] == {
        name: event[name]
        for name in ("category", "event_id")
        if not UNSAFE_IN_SD.search(event[name])  # those stay in the MSG only
    }
    assert parsed["timestamp"] == event["timestamp"]


@pytest.mark.parametrize("value", ["a\nb", "tab\there", "\x7f", "\x85", "\u2028", "x" * 256])
def test_sd_values_that_would_break_the_header_line_are_left_out(value: str) -> None:
    line = orjson.dumps({"category": value, "event_id": "e-1"})
    message = format_rfc5424(line, hostname="h", procid="1")
    assert parse_rfc5424(message)["params"] == {"event_id": "e-1"}
    assert message.endswith(b' event_id="e-1"] ' + line)


def test_txnr_wraps_to_one_and_frames_are_relp() -> None:
    assert next_txnr(1) == 2
    assert next_txnr(MAX_TXNR - 1) == MAX_TXNR
    assert next_txnr(MAX_TXNR) == 1
    assert (
        relp_frame(7, b"syslog", b"<13>1 - - - - - - hi") == b"7 syslog 20 <13>1 - - - - - - hi\n"
    )
    assert relp_frame(9, b"close") == b"9 close 0\n"


def test_sink_options_are_checked() -> None:
    sink = SyslogSink("127.0.0.1", 514)
    assert isinstance(sink, Sink)
    assert (sink.name, sink.transport, sink.facility) == ("syslog", "tcp", 13)
    with pytest.raises(ValueError, match="transport"):
        SyslogSink("127.0.0.1", 514, transport="udp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="TLS options"):
        SyslogSink("127.0.0.1", 514, cafile="ca.pem")
    with pytest.raises(ValueError, match="either"):
        SyslogSink("h", 6514, transport="tls", ssl_context=ssl.create_default_context(), cafile="x")
    with pytest.raises(ValueError, match="port"):
        SyslogSink("127.0.0.1", 0)
    with pytest.raises(ValueError, match="timeout"):
        SyslogSink("127.0.0.1", 514, timeout=0)


def test_a_refused_connection_raises_and_the_next_send_connects_again() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for transport in ("tcp", "relp"):
        sink = SyslogSink("127.0.0.1", port, transport=transport, timeout=5)
        for _ in range(2):
            with pytest.raises(ConnectionError):
                sink.send(make_lines(1))
        sink.close()


# --- a RELP server in a thread: for a refusal on demand ----------------------------------

FRAME_RE: Final = re.compile(rb"([0-9]+) ([a-z]+) ([0-9]+)[ \n]")


class FakeRelpServer:
    """Answers ``open`` (offering ``commands``), ``syslog`` (``refuse(msg)`` -> 500) and ``close``.

    Records every session's frames and the messages it acknowledged.
    """

    def __init__(
        self, refuse: Callable[[bytes], bool] = lambda _: False, commands: bytes = b"syslog"
    ) -> None:
        self.refuse = refuse
        self.commands = commands
        self.sessions: list[list[tuple[int, bytes, bytes]]] = []
        self.acknowledged: list[bytes] = []
        self.errors: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake relp server")
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(DEADLINE)
        frames: list[tuple[int, bytes, bytes]] = []
        self.sessions.append(frames)
        buffer, expected = b"", 1
        while True:
            match = FRAME_RE.match(buffer)
            length = int(match[3]) if match else 0
            if match is None or len(buffer) < match.end() + length + (1 if length else 0):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                continue
            txnr, command = int(match[1]), match[2]
            data = buffer[match.end() : match.end() + length]
            buffer = buffer[match.end() + length + (1 if length else 0) :]
            frames.append((txnr, command, data))
            if txnr != expected:
                self.errors.append(f"txnr {txnr}, expected {expected}")
            expected = next_txnr(expected)
            if command == b"open":
                answer = b"200 OK\nrelp_version=0\nrelp_software=fake\ncommands=" + self.commands
            elif command == b"syslog" and self.refuse(data):
                answer = b"500 refused"
            elif command == b"syslog":
                self.acknowledged.append(data)
                answer = b"200 OK"
            else:
                conn.sendall(relp_frame(txnr, b"rsp"))
                return
            conn.sendall(relp_frame(txnr, b"rsp", answer))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(DEADLINE)
        self._listener.close()
        assert not self._thread.is_alive(), "the fake RELP server hung"


@pytest.fixture
def fake_relp() -> Iterator[Callable[..., FakeRelpServer]]:
    servers: list[FakeRelpServer] = []

    def make(**kwargs: Any) -> FakeRelpServer:
        servers.append(FakeRelpServer(**kwargs))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_relp_session_opens_with_offers_numbers_frames_and_closes(
    fake_relp: Callable[..., FakeRelpServer],
) -> None:
    server = fake_relp()
    client = RelpClient("127.0.0.1", server.port, timeout=10, window=8)
    messages = [b"<13>1 - - - - - - %d" % i for i in range(50)]
    client.send(messages)
    client.send(messages[:3])
    client.close()
    assert not client.is_open
    (frames,) = server.sessions
    assert server.errors == []
    assert [t for t, _, _ in frames] == list(range(1, 1 + 1 + 53 + 1))
    assert [c for _, c, _ in frames] == [b"open"] + [b"syslog"] * 53 + [b"close"]
    offers = frames[0][2].split(b"\n")
    assert offers[0] == b"relp_version=0"
    assert re.fullmatch(rb"relp_software=asgi_audit,[^,]+,https://\S+", offers[1]), offers[1]
    assert offers[2:] == [b"commands=syslog"]
    assert server.acknowledged == messages + messages[:3]


def test_relp_refusal_raises_with_the_acknowledged_prefix_and_is_not_resent(
    fake_relp: Callable[..., FakeRelpServer],
) -> None:
    refused: list[bytes] = []

    def refuse_once(message: bytes) -> bool:
        if message.endswith(b'"seq":37') or b'"seq":37,' not in message or refused:
            return False
        refused.append(message)
        return True

    server = fake_relp(refuse=refuse_once)
    sink = SyslogSink("127.0.0.1", server.port, transport="relp", timeout=10)
    lines = make_lines(100)
    with pytest.raises(RelpError, match="refused") as caught:
        sink.send(lines)
    assert caught.value.acknowledged == 37
    sink.send(lines)  # the runner offers the same batch again
    sink.close()
    assert server.errors == []
    delivered = [parse_rfc5424(m)["msg"] for m in server.acknowledged]
    # Acknowledged messages after the refused one (already in flight) come again: duplicates,
    # each with its event_id. The 37 acknowledged before it are not sent again.
    assert delivered[:37] == [msg_of(x) for x in lines[:37]]
    assert set(delivered) == {msg_of(x) for x in lines}
    assert len(delivered) - len(lines) <= WINDOW
    second = [parse_rfc5424(d)["msg"] for _, c, d in server.sessions[1] if c == b"syslog"]
    assert second == [msg_of(x) for x in lines[37:]]


def test_relp_server_without_the_syslog_command_is_refused(
    fake_relp: Callable[..., FakeRelpServer],
) -> None:
    server = fake_relp(commands=b"eventlog")
    client = RelpClient("127.0.0.1", server.port, timeout=10)
    with pytest.raises(RelpError, match="syslog command"):
        client.send([b"<13>1 - - - - - - x"])
    assert not client.is_open
    assert server.acknowledged == []


# --- a real rsyslogd ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def rsyslogs(tmp_path: Path) -> Iterator[Callable[..., Rsyslog]]:
    started: list[Rsyslog] = []

    def start(kind: str = "tcp", tls: TlsFiles | None = None) -> Rsyslog:
        rsyslog = Rsyslog(tmp_path / f"rsyslog-{len(started)}", kind=kind, tls=tls)  # type: ignore[arg-type]
        started.append(rsyslog)
        rsyslog.start()
        return rsyslog

    yield start
    for rsyslog in started:
        rsyslog.stop()


def sink_for(rsyslog: Rsyslog, tls: TlsFiles | None = None, **options: Any) -> SyslogSink:
    if rsyslog.kind in ("tls", "relp-tls"):
        assert tls is not None
        options = {"cafile": str(tls.ca), "server_hostname": "localhost", **options}
    if rsyslog.kind == "relp-tls":
        assert tls is not None
        options = {"certfile": str(tls.client_cert), "keyfile": str(tls.client_key), **options}
    return SyslogSink("127.0.0.1", rsyslog.port, transport=rsyslog.kind, **options)


def assert_headers_match(rsyslog: Rsyslog, sink: SyslogSink, lines: Sequence[bytes]) -> None:
    """rsyslog's own parse of each header agrees with the event."""
    records = rsyslog.header_records()
    assert len(records) == len(lines)
    for record, line in zip(records, lines, strict=True):
        event = orjson.loads(line)
        assert record["timestamp"] == event["timestamp"]
        assert record["msgid"] == event["event_type"]
        assert record["pri"] == str(13 * 8 + severity_for_outcome(event["outcome"]))
        assert (record["hostname"], record["app_name"]) == (sink.hostname, "asgi_audit")
        assert json.loads(record["sd"]) == {
            SD_ID: {"category": event["category"], "event_id": event["event_id"]}
        }


@pytest.mark.parametrize("kind", ["tcp", "tls", "relp", "relp-tls"])
@pytest.mark.e2e
@needs_rsyslogd
def test_every_line_arrives_in_order_byte_for_byte(
    kind: str, rsyslogs: Callable[..., Rsyslog], tls_files: TlsFiles
) -> None:
    rsyslog = rsyslogs(kind, tls_files)
    sink = sink_for(rsyslog, tls_files)
    lines = make_lines(N_LINES)
    for batch in batches(lines, BATCH):
        sink.send(batch)
    sink.close()
    assert rsyslog.wait_for_messages(N_LINES, DEADLINE) == [msg_of(x) for x in lines]
    rsyslog.stop()  # flushes and closes its files
    assert rsyslog.messages() == [msg_of(x) for x in lines]
    assert_headers_match(rsyslog, sink, lines)


@pytest.mark.e2e
@needs_rsyslogd
def test_tls_refuses_a_server_it_cannot_verify_and_sends_nothing(
    rsyslogs: Callable[..., Rsyslog], tls_files: TlsFiles, tmp_path: Path
) -> None:
    rsyslog = rsyslogs("tls", tls_files)
    other_ca, _ = make_ca(tmp_path / "other", "other-ca")
    wrong_ca = SyslogSink(
        "127.0.0.1",
        rsyslog.port,
        transport="tls",
        cafile=str(other_ca),
        server_hostname="localhost",
    )
    wrong_name = sink_for(rsyslog, tls_files, server_hostname="audit.example")
    system_store = SyslogSink("127.0.0.1", rsyslog.port, transport="tls")
    for sink in (wrong_ca, wrong_name, system_store):
        for _ in range(2):
            with pytest.raises(ssl.SSLCertVerificationError):
                sink.send(make_lines(3))
        sink.close()
    marker = make_lines(1, start=99)
    sink = sink_for(rsyslog, tls_files)
    sink.send(marker)
    sink.close()
    assert rsyslog.wait_for_messages(1, DEADLINE) == [msg_of(marker[0])]
    rsyslog.stop()
    assert rsyslog.messages() == [msg_of(marker[0])]


@pytest.mark.e2e
@needs_rsyslogd
def test_relp_tls_needs_a_client_certificate(
    rsyslogs: Callable[..., Rsyslog], tls_files: TlsFiles
) -> None:
    rsyslog = rsyslogs("relp-tls", tls_files)
    anonymous = SyslogSink(
        "127.0.0.1",
        rsyslog.port,
        transport="relp-tls",
        cafile=str(tls_files.ca),
        server_hostname="localhost",
    )
    with pytest.raises(RelpError):
        anonymous.send(make_lines(3))
    anonymous.close()
    marker = make_lines(1, start=99)
    sink = sink_for(rsyslog, tls_files)
    sink.send(marker)
    sink.close()
    rsyslog.stop()
    assert rsyslog.messages() == [msg_of(marker[0])]


@pytest.mark.parametrize("kind", ["tcp", "tls", "relp"])
@pytest.mark.e2e
@needs_rsyslogd
def test_a_restarted_server_gets_every_batch_once(
    kind: str, rsyslogs: Callable[..., Rsyslog], tls_files: TlsFiles
) -> None:
    # Restarted between two batches: the closed connection is noticed before writing
    # (not written into and lost); down: the send raises and the batch is not delivered.
    rsyslog = rsyslogs(kind, tls_files)
    sink = sink_for(rsyslog, tls_files, timeout=10)
    first, second, third = batches(make_lines(3 * BATCH), BATCH)
    sink.send(first)
    rsyslog.wait_for_messages(BATCH, DEADLINE)
    rsyslog.stop()
    rsyslog.start()
    sink.send(second)
    rsyslog.wait_for_messages(2 * BATCH, DEADLINE)
    rsyslog.stop()
    with pytest.raises(ConnectionError):
        sink.send(third)
    rsyslog.start()
    sink.send(third)
    sink.close()
    rsyslog.stop()
    assert rsyslog.messages() == [msg_of(x) for x in [*first, *second, *third]]


def send_with_retries(sink: SyslogSink, batch: Sequence[bytes], failures: list[Exception]) -> None:
    """What the sink runner does: offer the same batch again after a failure (bounded)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            sink.send(batch)
        except OSError as exc:
            failures.append(exc)
            time.sleep(0.05)
        else:
            return
    raise AssertionError(f"still failing after {DEADLINE}s: {failures[-1]!r}")


@pytest.mark.e2e
@needs_rsyslogd
def test_relp_loses_nothing_when_rsyslog_stops_mid_batch(
    rsyslogs: Callable[..., Rsyslog],
) -> None:
    rsyslog = rsyslogs("relp")
    sink = sink_for(rsyslog, timeout=10)
    lines = make_lines(N_LINES)
    parts = batches(lines, 250)  # larger than the window: sent in several rounds
    for batch in parts[:4]:
        sink.send(batch)
    # Frozen, rsyslogd reads nothing: the next batch's first window stays unanswered in
    # its socket. Then it is stopped, and started again on the same port.
    rsyslog.pause()
    failures: list[Exception] = []
    stopped = threading.Event()

    def deliver_the_rest() -> None:
        for i, batch in enumerate(parts[4:]):
            send_with_retries(sink, batch, failures)
            if i == 0:
                stopped.wait(DEADLINE)

    sender = threading.Thread(target=deliver_the_rest, name="relp sender")
    sender.start()
    try:
        deadline = time.monotonic() + DEADLINE
        while receive_queue_bytes(rsyslog.port) == 0:
            assert time.monotonic() < deadline, "nothing sent to the frozen rsyslogd"
            time.sleep(0.01)
    finally:
        rsyslog.stop()
        stopped.set()
    deadline = time.monotonic() + DEADLINE
    while not failures:  # the batch in flight, or the next one, fails while it is down
        assert time.monotonic() < deadline, "no send failed while rsyslogd was down"
        time.sleep(0.01)
    rsyslog.start()
    sender.join(DEADLINE)
    assert not sender.is_alive(), "the sender hung"
    sink.close()
    rsyslog.stop()

    assert all(isinstance(f, RelpError) for f in failures), failures
    arrived = rsyslog.messages()
    originals = {event_id_of(msg_of(x)): msg_of(x) for x in lines}
    first_seen: dict[str, bytes] = {}
    for message in arrived:
        event_id = event_id_of(message)
        assert originals[event_id] == message  # a duplicate is the same line, same event_id
        first_seen.setdefault(event_id, message)
    assert list(first_seen.values()) == [msg_of(x) for x in lines]  # nothing lost, in order
    assert len(arrived) - len(lines) <= WINDOW, "more duplicates than messages in flight"
