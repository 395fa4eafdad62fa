"""A small RELP client: syslog messages with an acknowledgement for each one.

IO. RELP (the Reliable Event Logging Protocol of rsyslog, served by its
``imrelp`` input) runs over one TCP connection (optionally TLS). Every frame is
``TXNR SP COMMAND SP DATALEN [SP DATA] LF``; the client numbers its commands
from 1 (the ``open`` command, which exchanges offers), the server answers each
one with an ``rsp`` frame carrying the same number and a status (``200 OK``),
and the client ends the session with ``close``. A server about to go away sends
the hint ``0 serverclose 0``.

:class:`RelpClient` pipelines: it keeps up to ``window`` messages in flight
(numbered, sent, not yet answered), and :meth:`RelpClient.send` returns only
once every message it was given has its ``200``. On anything else (a refusal,
a broken or closed connection, a timeout on a read, a frame it cannot parse) it
closes the session and raises :class:`RelpError`, which says how many leading
messages of the call were acknowledged: those are with the server, the rest may
or may not be (a message can be received and processed and its answer lost
with the connection), so resending the rest can duplicate, never lose.

What a ``200`` means is the server's business: rsyslog's imrelp answers once
the message is in rsyslog's queue, so for the acknowledgement to survive a crash
of rsyslog itself, give that queue a disk (``queue.type="LinkedList"`` with
``queue.filename``, ``queue.saveOnShutdown="on"``) or run the ruleset without a
queue (``queue.type="Direct"``: the answer follows the actions).
"""

from __future__ import annotations

import re
import select
import socket
import ssl
from collections.abc import Sequence
from typing import Final, NoReturn

__all__ = ("MAX_TXNR", "RelpClient", "RelpError", "next_txnr", "open_connection", "relp_frame")

#: The highest transaction number; the next one after it is 1 again.
MAX_TXNR: Final = 999_999_999
_MAX_RESPONSE_DATA: Final = 65_536  # answers are short: a status, or the offers of ``open``
_HEADER_RE: Final = re.compile(rb"([0-9]{1,9}) ([a-zA-Z]{1,32}) ([0-9]{1,9})([ \n])")
_LONGEST_HEADER: Final = 9 + 1 + 32 + 1 + 9 + 1


class RelpError(ConnectionError):
    """The RELP session failed and was closed; the next send opens a new one.

    ``acknowledged`` is how many leading messages of the failed
    :meth:`RelpClient.send` call the server answered with ``200``.
    """

    def __init__(self, message: str, *, acknowledged: int = 0) -> None:
        super().__init__(message)
        self.acknowledged = acknowledged


def next_txnr(txnr: int) -> int:
    """The transaction number after ``txnr`` (1 after :data:`MAX_TXNR`)."""
    return 1 if txnr >= MAX_TXNR else txnr + 1


def relp_frame(txnr: int, command: bytes, data: bytes = b"") -> bytes:
    """One RELP frame: ``TXNR SP COMMAND SP DATALEN [SP DATA] LF``."""
    if data:
        return b"%d %s %d %s\n" % (txnr, command, len(data), data)
    return b"%d %s 0\n" % (txnr, command)


def _software_offer() -> bytes:
    try:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("asgi-audit")
        except PackageNotFoundError:
            installed = "0"
    except ImportError:  # pragma: no cover - importlib.metadata is in every supported Python
        installed = "0"
    text = f"asgi_audit,{installed},https://pypi.org/project/asgi-audit/"
    return text.encode("ascii", "replace")


class _Frame:
    __slots__ = ("command", "data", "txnr")

    def __init__(self, txnr: int, command: bytes, data: bytes) -> None:
        self.txnr = txnr
        self.command = command
        self.data = data


def open_connection(
    host: str,
    port: int,
    timeout: float,
    ssl_context: ssl.SSLContext | None,
    server_hostname: str | None,
) -> socket.socket:
    """A TCP connection with keepalive, wrapped in TLS when ``ssl_context`` is given."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname=server_hostname)
    except BaseException:
        sock.close()
        raise
    return sock


class RelpClient:
    """One RELP session to ``host:port``, opened on first use, reopened after a failure.

    Not thread-safe: one thread sends (the sink's). Every connect, write and read
    is bounded by ``timeout`` seconds. ``ssl_context`` turns on TLS (imrelp's
    ``tls="on"``); ``server_hostname`` is the name its certificate must carry
    (``host`` by default).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 10.0,
        window: int = 128,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.host = host
        self.port = port
        self.timeout = timeout
        self.window = window
        self._ssl_context = ssl_context
        self._server_hostname = server_hostname or host
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        self._txnr = 1

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    # --- session ---------------------------------------------------------------------------

    def open(self) -> None:
        """Connect and exchange offers; raise :class:`RelpError` if the server refuses."""
        if self._sock is not None:
            return
        try:
            self._open()
        except RelpError:
            self._abort()
            raise
        except (OSError, ValueError) as exc:
            self._abort()
            raise RelpError(f"RELP open to {self.host}:{self.port} failed: {exc}") from exc

    def _open(self) -> None:
        sock = open_connection(
            self.host, self.port, self.timeout, self._ssl_context, self._server_hostname
        )
        self._sock = sock
        self._buffer.clear()
        self._txnr = 1
        offers = b"relp_version=0\nrelp_software=%s\ncommands=syslog" % _software_offer()
        txnr = self._take_txnr()
        sock.sendall(relp_frame(txnr, b"open", offers))
        frame = self._read_frame()
        self._check_answer(frame, txnr, what="open")
        commands: list[bytes] = []
        for line in frame.data.split(b"\n")[1:]:
            name, _, values = line.partition(b"=")
            if name == b"commands":
                commands = values.split(b",")
        if b"syslog" not in commands:
            raise RelpError(
                f"the RELP server at {self.host}:{self.port} does not offer the syslog "
                f"command (it answered {frame.data[:200]!r})"
            )

    def close(self) -> None:
        """End the session politely (``close``, then its answer); never raises."""
        sock = self._sock
        if sock is None:
            return
        try:
            txnr = self._take_txnr()
            sock.sendall(relp_frame(txnr, b"close"))
            while True:
                frame = self._read_frame()
                if frame.txnr == txnr and frame.command == b"rsp":
                    break
            if isinstance(sock, ssl.SSLSocket):
                sock.settimeout(min(self.timeout, 1.0))
                sock.unwrap()  # a TLS close_notify: an orderly end for the server
        except (OSError, ValueError):
            pass
        finally:
            self._abort()

    def _abort(self) -> None:
        sock, self._sock = self._sock, None
        self._buffer.clear()
        if sock is not None:
            sock.close()

    # --- sending ---------------------------------------------------------------------------

    def send(self, messages: Sequence[bytes]) -> None:
        """Deliver ``messages`` in order; return once each one has its ``200``.

        Opens the session if needed (and first drops one the server has closed
        since the last call). Raises :class:`RelpError` with ``acknowledged``
        set on any failure, after closing the session.
        """
        if not messages:
            return
        self._drop_if_closed_by_server()
        self.open()
        count = len(messages)
        acked = bytearray(count)
        prefix = 0  # messages[:prefix] are all acknowledged
        in_flight: dict[int, int] = {}  # txnr -> index in messages
        sent = 0
        try:
            while prefix < count:
                if sent < count and len(in_flight) <= self.window // 2:
                    frames = []
                    while sent < count and len(in_flight) < self.window:
                        txnr = self._take_txnr()
                        in_flight[txnr] = sent
                        frames.append(relp_frame(txnr, b"syslog", messages[sent]))
                        sent += 1
                    self._socket().sendall(b"".join(frames))
                frame = self._read_frame()
                index = in_flight.pop(frame.txnr, None)
                if frame.command != b"rsp" or index is None:
                    self._unexpected(frame)
                self._check_answer(frame, frame.txnr, what="syslog")
                acked[index] = 1
                while prefix < count and acked[prefix]:
                    prefix += 1
        except RelpError as exc:
            self._abort()
            exc.acknowledged = prefix
            raise
        except (OSError, ValueError) as exc:
            self._abort()
            raise RelpError(
                f"RELP delivery to {self.host}:{self.port} failed after {prefix} of "
                f"{count} acknowledgements: {exc}",
                acknowledged=prefix,
            ) from exc

    def _drop_if_closed_by_server(self) -> None:
        # Between two sends the server says nothing, unless it is going away
        # (``serverclose``, then EOF): start a new session then, rather than
        # fail the next batch on the old one.
        sock = self._sock
        if sock is None:
            return
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable and not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                return
            sock.settimeout(0)
            try:
                chunk = sock.recv(65_536)
            finally:
                sock.settimeout(self.timeout)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except (OSError, ValueError):
            self._abort()
            return
        # EOF, or anything at all (the hint, or a stray answer): a new session.
        del chunk
        self._abort()

    # --- frames ----------------------------------------------------------------------------

    def _socket(self) -> socket.socket:
        if self._sock is None:
            raise RelpError("the RELP session is closed")
        return self._sock

    def _take_txnr(self) -> int:
        txnr = self._txnr
        self._txnr = next_txnr(txnr)
        return txnr

    def _read_frame(self) -> _Frame:
        sock = self._socket()
        buffer = self._buffer
        while True:
            match = _HEADER_RE.match(buffer)
            if match is not None:
                txnr, command, length = int(match[1]), match[2], int(match[3])
                if length > _MAX_RESPONSE_DATA:
                    raise RelpError(f"a RELP answer of {length} bytes is too long")
                start = match.end()
                if length == 0:
                    if match[4] != b"\n":
                        raise RelpError(f"malformed RELP frame {bytes(buffer[:80])!r}")
                    del buffer[:start]
                    frame = _Frame(txnr, command, b"")
                    break
                if match[4] != b" ":
                    raise RelpError(f"malformed RELP frame {bytes(buffer[:80])!r}")
                end = start + length
                if len(buffer) > end:
                    if buffer[end : end + 1] != b"\n":
                        raise RelpError(f"malformed RELP frame {bytes(buffer[:80])!r}")
                    frame = _Frame(txnr, command, bytes(buffer[start:end]))
                    del buffer[: end + 1]
                    break
            elif len(buffer) >= _LONGEST_HEADER or b"\n" in buffer:
                raise RelpError(f"malformed RELP frame {bytes(buffer[:80])!r}")
            chunk = sock.recv(65_536)
            if not chunk:
                raise RelpError(f"the RELP server at {self.host}:{self.port} closed the connection")
            buffer += chunk
        if frame.txnr == 0 and frame.command == b"serverclose":
            raise RelpError(f"the RELP server at {self.host}:{self.port} closed the session")
        return frame

    def _check_answer(self, frame: _Frame, txnr: int, *, what: str) -> None:
        if frame.command != b"rsp" or frame.txnr != txnr:
            self._unexpected(frame)
        if not frame.data.startswith(b"200"):
            status = frame.data.split(b"\n", 1)[0][:200].decode("utf-8", "replace")
            raise RelpError(
                f"the RELP server at {self.host}:{self.port} refused {what}: {status!r}"
            )

    def _unexpected(self, frame: _Frame) -> NoReturn:
        raise RelpError(
            f"unexpected RELP frame from {self.host}:{self.port}: txnr {frame.txnr}, "
            f"command {frame.command.decode('ascii', 'replace')!r}"
        )
