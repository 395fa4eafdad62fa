"""A sink that forwards the audit trail to a syslog server (rsyslog, syslog-ng, ...).

IO (the pure formatting helpers at the top do none). Each audit line becomes one
RFC 5424 message whose MSG is the JSON line itself, byte for byte::

    <108>1 2026-11-28T10:36:10.013657+00:00 web-1 asgi_audit 4242 login_attempt
    [asgi_audit@32473 category="auth" event_id="01a221ba-099d-7a85-9b9a-2b001471fbdd"]
    {"timestamp":"2026-11-28T10:36:10.013657+00:00",...,"outcome":"failed",...}

(one line on the wire). The header repeats what a syslog server routes and
filters on: the event's own timestamp, ``event_type`` as MSGID, ``category`` and
``event_id`` as structured data (in the SD-ID ``asgi_audit@32473``; 32473 is the
private enterprise number RFC 5612 reserves for examples and documentation), and
a severity from the outcome (warning for ``blocked``, ``denied``, ``failed``,
``rate_limited`` and ``error``, info for ``success``, notice otherwise).

The ledger's records (``checkpoints.log``, shipped too: see
:func:`~asgi_audit.sinks.base.ledger_record`) have no ``event_type``, ``category``
or ``event_id``. Their MSGID is ``ledger``, their structured data the record's
number and type, their severity info, and their MSG, again, the line itself::

    <110>1 2026-11-28T10:36:10.020115+00:00 web-1 asgi_audit 4242 ledger
    [asgi_audit@32473 n="17" type="checkpoint"]
    {"n":17,"prev":"...","type":"checkpoint",...,"sig":"ed25519:..."}

So a server can route the records to a file of their own, whose last line is an
anchor for ``asgi-audit verify --anchor``.

The MSG carries no UTF-8 byte order mark by default. RFC 5424 allows both forms
(MSG-UTF8 starts with the BOM, MSG-ANY has none), rsyslog keeps a BOM as the first
three bytes of ``%msg%``, and RFC 8259 forbids a BOM in front of JSON sent over a
network: with it, the JSON a server writes out or parses would no longer be the
line of the file. ``bom=True`` adds it for receivers that want MSG-UTF8.

Transports, all with RFC 6587 octet-counting framing (``LEN SP MSG``, so a message
could even contain a newline):

``tcp``
    Plain TCP. Syslog over TCP has no acknowledgement: ``send`` writes the batch
    with one ``sendall``, then (on Linux) waits until the receiving host's TCP
    has acknowledged every byte (``SIOCOUTQ`` drops to 0) and checks the
    connection was not reset meanwhile. What can still be lost without an error:
    bytes the receiver's kernel acknowledged but the syslog server had not yet
    read from its socket (or had read but not yet written out of its own queue)
    when it crashed or the connection broke after ``send`` returned. Elsewhere
    than Linux, ``send`` returns once the kernel accepted the bytes, so whatever
    was still in flight or in either socket buffer when the connection broke is
    lost too. A connection the server closed between two batches is noticed
    before writing, and the batch goes on a new one.
``tls``
    The same over TLS (RFC 5425), with the same window of loss. The server's
    certificate is verified by default, against ``cafile`` or the system's
    store, for the name ``server_hostname`` (``host`` by default); ``certfile``
    and ``keyfile`` present a client certificate.
``relp``
    RELP, rsyslog's acknowledged protocol (its ``imrelp`` input), through
    :class:`~asgi_audit.sinks.relp.RelpClient`: ``send`` returns once every
    message of the batch has its ``200 OK``. A failure part-way raises (the
    runner offers the batch again); this sink remembers which leading lines of
    the failed batch were acknowledged and does not send them again when the
    same lines come back, so a duplicate can only be a message that was sent
    but not acknowledged before the failure (at most the RELP window, 128), and
    it carries the same ``event_id`` as the original. ``relp-tls`` is RELP over
    TLS (imrelp's ``tls="on"``), verified like ``tls``.

Any error closes the connection and raises; the next ``send`` (after the runner's
backoff) connects again. Every connect, write and read is bounded by ``timeout``.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import select
import socket
import ssl
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, Final, Literal

import orjson

from .base import ledger_record
from .relp import RelpClient, RelpError, open_connection

__all__ = (
    "LEDGER_MSGID",
    "SD_ID",
    "SyslogSink",
    "Transport",
    "escape_sd_value",
    "format_rfc5424",
    "frame_octet_counted",
    "severity_for_outcome",
)

Transport = Literal["tcp", "tls", "relp", "relp-tls"]

#: The SD-ID of the structured data element (32473: RFC 5612's documentation number).
SD_ID: Final = "asgi_audit@32473"
#: The MSGID of a ledger record.
LEDGER_MSGID: Final = "ledger"
NILVALUE: Final = "-"
BOM: Final = b"\xef\xbb\xbf"

_WARNING_OUTCOMES: Final = frozenset({"blocked", "denied", "failed", "rate_limited", "error"})
_TIMESTAMP_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})\Z"
)
_NOT_PRINTUSASCII: Final = re.compile(r"[^\x21-\x7e]")
_SD_ESCAPE: Final = re.compile(r'(["\\\]])')
_SD_UNSAFE: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SD_VALUE_MAX: Final = 255
_HOSTNAME_MAX: Final = 255
_APP_NAME_MAX: Final = 48
_PROCID_MAX: Final = 128
_MSGID_MAX: Final = 32


# --- pure helpers ------------------------------------------------------------------------


def severity_for_outcome(outcome: object) -> int:
    """The syslog severity of an event: 4 (warning), 6 (info) or 5 (notice)."""
    if outcome in _WARNING_OUTCOMES:
        return 4
    if outcome == "success":
        return 6
    return 5


def escape_sd_value(value: str) -> str:
    """An SD-PARAM value with ``"``, ``\\`` and ``]`` backslash-escaped (RFC 5424 6.3.3)."""
    return _SD_ESCAPE.sub(r"\\\1", value)


def _sd_value_fits(value: str) -> bool:
    # The header stays one line of printable text: a value with a control character
    # or a line separator, or a long one, is left to the MSG (the library's own
    # categories and event ids always fit).
    return len(value) <= _SD_VALUE_MAX and not _SD_UNSAFE.search(value)


def _header_field(value: object, limit: int) -> str:
    # HOSTNAME, APP-NAME, PROCID, MSGID: 1 to ``limit`` printable US-ASCII characters.
    if not isinstance(value, str) or not value:
        return NILVALUE
    return _NOT_PRINTUSASCII.sub("_", value)[:limit]


def _timestamp(value: object) -> str:
    if not isinstance(value, str) or not _TIMESTAMP_RE.match(value):
        return NILVALUE
    # fromisoformat checks the calendar and the offset. The fraction is left out:
    # any 1 to 6 digits are valid, and Python 3.10 parses only 3 or 6.
    zone = "+00:00" if value.endswith("Z") else value[-6:]
    try:
        _dt.datetime.fromisoformat(value[:19] + zone)
    except ValueError:
        return NILVALUE
    return value


def _msgid(value: object) -> str:
    if (
        isinstance(value, str)
        and 0 < len(value) <= _MSGID_MAX
        and not _NOT_PRINTUSASCII.search(value)
    ):
        return value
    return NILVALUE


def format_rfc5424(
    line: bytes,
    *,
    hostname: str,
    app_name: str = "asgi_audit",
    procid: str,
    facility: int = 13,
    bom: bool = False,
) -> bytes:
    """One audit line as an RFC 5424 message (without framing).

    ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [asgi_audit@32473
    category=".." event_id=".."] MSG``: TIMESTAMP is the event's ``timestamp``
    (``-`` if it is missing or not an RFC 3339 time), MSGID its ``event_type``
    (``-`` unless 1-32 printable ASCII characters), PRI ``facility * 8`` plus the
    severity of its ``outcome`` and MSG the line without its newline (after a
    BOM if ``bom``). ``category`` and ``event_id`` are left out of the structured
    data when they are not strings of at most 255 characters without control
    characters or line separators. A ledger record (see
    :func:`~asgi_audit.sinks.base.ledger_record`) gets MSGID ``ledger``, ``n``
    and ``type`` as structured data instead, and severity info. A line that is
    not a JSON object is still sent, with ``-`` for what it does not give.
    Facility 13 is "log audit".
    """
    if not 0 <= facility <= 23:
        raise ValueError(f"facility must be 0-23, got {facility}")
    msg = line[:-1] if line.endswith(b"\n") else line
    try:
        event: Any = orjson.loads(msg)
    except orjson.JSONDecodeError:
        event = None
    if not isinstance(event, dict):
        event = {}
    record = ledger_record(event)
    if record is None:
        severity = severity_for_outcome(event.get("outcome"))
        msgid = _msgid(event.get("event_type"))
        values = [(name, event.get(name)) for name in ("category", "event_id")]
    else:
        severity, msgid = 6, LEDGER_MSGID
        values = [("n", str(record[0])), ("type", record[1])]
    params = [
        f'{name}="{escape_sd_value(value)}"'
        for name, value in values
        if isinstance(value, str) and _sd_value_fits(value)
    ]
    structured = f"[{' '.join([SD_ID, *params])}]"
    header = " ".join(
        (
            f"<{facility * 8 + severity}>1",
            _timestamp(event.get("timestamp")),
            _header_field(hostname, _HOSTNAME_MAX),
            _header_field(app_name, _APP_NAME_MAX),
            _header_field(procid, _PROCID_MAX),
            msgid,
            structured,
        )
    )
    return b"%s %s%s" % (header.encode("utf-8"), BOM if bom else b"", msg)


def frame_octet_counted(message: bytes) -> bytes:
    """RFC 6587 octet counting: ``MSG-LEN SP SYSLOG-MSG``, the length in bytes."""
    return b"%d %s" % (len(message), message)


# --- the sink ----------------------------------------------------------------------------

if sys.platform == "linux":
    import fcntl
    import termios

    def _unacknowledged(sock: socket.socket) -> int:
        # SIOCOUTQ (== TIOCOUTQ): bytes written but not yet acknowledged by the peer's TCP.
        out = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
        return int.from_bytes(out, sys.byteorder, signed=True)

else:  # pragma: no cover - the tests run on Linux

    def _unacknowledged(sock: socket.socket) -> int:
        return 0


def _closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """Whether the peer closed or reset the connection (a syslog server never writes)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable and not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            return False
        sock.settimeout(0)
        try:
            data = sock.recv(4096)
        finally:
            sock.settimeout(timeout)
    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return False  # e.g. a TLS 1.3 session ticket: no application data
    except (OSError, ValueError):
        return True
    return not data


def _say_goodbye(sock: ssl.SSLSocket, timeout: float) -> None:
    # A TLS close_notify, so that the server sees an orderly end rather than a cut.
    try:
        sock.settimeout(min(timeout, 1.0))
        sock.unwrap()
    except (OSError, ValueError):
        pass


class SyslogSink:
    """Forwards audit lines to a syslog server as RFC 5424 messages (see the module).

    ``hostname`` defaults to :func:`socket.gethostname`, PROCID is this process's
    id, ``facility`` 13 is "log audit". For ``tls``/``relp-tls``: ``ssl_context``
    (used as given) or ``cafile`` (else the system's store), ``certfile`` and
    ``keyfile`` for a client certificate, ``server_hostname`` for the name to
    verify.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        transport: Transport = "tcp",
        name: str = "syslog",
        ssl_context: ssl.SSLContext | None = None,
        cafile: str | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        server_hostname: str | None = None,
        timeout: float = 10.0,
        hostname: str | None = None,
        app_name: str = "asgi_audit",
        facility: int = 13,
        bom: bool = False,
    ) -> None:
        if transport not in ("tcp", "tls", "relp", "relp-tls"):
            raise ValueError(f"transport must be tcp, tls, relp or relp-tls, got {transport!r}")
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1-65535, got {port}")
        if not 0 <= facility <= 23:
            raise ValueError(f"facility must be 0-23, got {facility}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        tls = transport in ("tls", "relp-tls")
        if not tls and (ssl_context or cafile or certfile or keyfile):
            raise ValueError(f"TLS options given for transport {transport!r}")
        if ssl_context is not None and (cafile or certfile or keyfile):
            raise ValueError("give either ssl_context or cafile/certfile/keyfile, not both")
        if keyfile and not certfile:
            raise ValueError("keyfile needs certfile")
        if tls and ssl_context is None:
            ssl_context = ssl.create_default_context(cafile=cafile)
            if certfile:
                ssl_context.load_cert_chain(certfile, keyfile)
        self.name = name
        self.host = host
        self.port = port
        self.transport: Transport = transport
        self.timeout = timeout
        self.hostname = hostname if hostname is not None else socket.gethostname()
        self.app_name = app_name
        self.facility = facility
        self.bom = bom
        self._ssl_context = ssl_context if tls else None
        self._server_hostname = server_hostname or host
        self._lock = threading.Lock()
        self._stream: socket.socket | None = None
        self._relp: RelpClient | None = None
        if transport in ("relp", "relp-tls"):
            self._relp = RelpClient(
                host,
                port,
                timeout=timeout,
                ssl_context=self._ssl_context,
                server_hostname=self._server_hostname,
            )
        # The leading lines of the last failed RELP batch that were acknowledged.
        self._acknowledged: Sequence[bytes] = ()

    def __repr__(self) -> str:
        return f"SyslogSink({self.host!r}, {self.port}, transport={self.transport!r})"

    def format(self, line: bytes) -> bytes:
        """The RFC 5424 message this sink sends for ``line``."""
        return format_rfc5424(
            line,
            hostname=self.hostname,
            app_name=self.app_name,
            procid=str(os.getpid()),
            facility=self.facility,
            bom=self.bom,
        )

    def send(self, lines: Sequence[bytes]) -> None:
        """Deliver ``lines`` (see the module for what "delivered" means per transport)."""
        if not lines:
            return
        with self._lock:
            if self._relp is not None:
                self._send_relp(self._relp, lines)
            else:
                self._send_stream(b"".join(frame_octet_counted(self.format(x)) for x in lines))

    def close(self) -> None:
        with self._lock:
            if self._relp is not None:
                self._relp.close()
            sock = self._stream
            if isinstance(sock, ssl.SSLSocket):
                _say_goodbye(sock, self.timeout)
            self._drop_stream()

    # --- tcp, tls ------------------------------------------------------------------------

    def _send_stream(self, payload: bytes) -> None:
        sock = self._stream
        if sock is not None and _closed_by_peer(sock, self.timeout):
            self._drop_stream()
            sock = None
        try:
            if sock is None:
                sock = self._stream = self._connect()
            sock.sendall(payload)
            self._wait_acknowledged(sock, time.monotonic() + self.timeout)
            if _closed_by_peer(sock, self.timeout):
                raise ConnectionResetError(
                    f"the syslog server at {self.host}:{self.port} closed the connection "
                    "while the batch was being delivered"
                )
        except BaseException:
            self._drop_stream()
            raise

    def _connect(self) -> socket.socket:
        return open_connection(
            self.host, self.port, self.timeout, self._ssl_context, self._server_hostname
        )

    def _wait_acknowledged(self, sock: socket.socket, deadline: float) -> None:
        delay = 0.0005
        while (waiting := _unacknowledged(sock)) > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{waiting} bytes not acknowledged by {self.host}:{self.port} "
                    f"within {self.timeout}s"
                )
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.05)

    def _drop_stream(self) -> None:
        sock, self._stream = self._stream, None
        if sock is not None:
            sock.close()

    # --- relp ----------------------------------------------------------------------------

    def _send_relp(self, client: RelpClient, lines: Sequence[bytes]) -> None:
        done = self._acknowledged
        skip = len(done)
        if not (0 < skip <= len(lines) and list(lines[:skip]) == list(done)):
            skip = 0
        try:
            client.send([self.format(line) for line in lines[skip:]])
        except RelpError as exc:
            self._acknowledged = lines[: skip + exc.acknowledged]
            raise
        self._acknowledged = ()
