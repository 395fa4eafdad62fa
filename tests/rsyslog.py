"""A real rsyslogd for the syslog sink tests, with its own config in a temporary directory.

``Rsyslog(directory, kind="tcp")`` writes ``rsyslog.conf`` for one input on
127.0.0.1 (``tcp``: imtcp; ``tls``: imtcp with the gtls driver, no client
certificate asked; ``relp``: imrelp; ``relp-tls``: imrelp with ``tls="on"``,
which wants a client certificate signed by the test CA),
starts ``rsyslogd -n`` as a child and waits (bounded) until the port listens.
No imuxsock or imklog: it reads nothing of this machine. The input's ruleset
parses the structured data (mmpstrucdata) and writes two files:

- ``messages.log``: ``%msg%`` and a newline, so each line is the MSG as received
  (control characters are not escaped, a BOM would stay);
- ``headers.log``: one JSON object per message with PRI, the reported time,
  HOSTNAME, APP-NAME, PROCID, MSGID, the raw structured data and mmpstrucdata's
  parse of it (``sd``).

The main queue is ``Direct``: the actions run before the input takes the next
message, so imrelp's ``200 OK`` comes after the message is written, and nothing
acknowledged can be lost in a queue when rsyslogd is stopped. ``stop()`` sends
SIGTERM (and SIGCONT, if paused) and waits; ``start()`` again reuses the port.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from tests.servers import free_port

__all__ = (
    "RSYSLOGD",
    "Kind",
    "Rsyslog",
    "RsyslogError",
    "TlsFiles",
    "make_ca",
    "make_tls_files",
    "receive_queue_bytes",
    "running_rsyslog",
)

#: The rsyslogd binary, or None when rsyslog is not installed.
RSYSLOGD: Final = shutil.which("rsyslogd") or (
    "/usr/sbin/rsyslogd" if os.access("/usr/sbin/rsyslogd", os.X_OK) else None
)

Kind = Literal["tcp", "tls", "relp", "relp-tls"]

_POLL: Final = 0.02
_TCP_LISTEN: Final = "0A"
_TCP_ESTABLISHED: Final = "01"


class RsyslogError(RuntimeError):
    """rsyslogd would not start, or did not stop; the message holds its stderr."""


# --- certificates ------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    """A test CA, a server certificate for ``localhost`` and 127.0.0.1, a client certificate."""

    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {result.stderr}")


_EC: Final = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA (EC P-256, two days): ``(certificate, key)`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req", "-x509", *_EC, "-keyout", str(key), "-out", str(cert), "-days", "2",
        "-subj", f"/CN=asgi_audit test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return cert, key


def _issue(directory: Path, name: str, ca: Path, ca_key: Path, usage: str) -> tuple[Path, Path]:
    cert, key, csr = directory / f"{name}.pem", directory / f"{name}.key", directory / f"{name}.csr"
    extensions = directory / f"{name}.ext"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage={usage}\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _openssl("req", *_EC, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(extensions),
    )  # fmt: skip
    return cert, key


def make_tls_files(directory: Path) -> TlsFiles:
    """A test CA with a server and a client certificate it signed, in ``directory``."""
    ca, ca_key = make_ca(directory, "ca")
    cert, key = _issue(directory, "server", ca, ca_key, "serverAuth")
    client_cert, client_key = _issue(directory, "client", ca, ca_key, "clientAuth")
    return TlsFiles(ca=ca, cert=cert, key=key, client_cert=client_cert, client_key=client_key)


# --- the daemon --------------------------------------------------------------------------


def _quote(value: object) -> str:
    text = str(value)
    assert '"' not in text, text
    assert "\\" not in text, text
    return f'"{text}"'


def _tcp_table() -> list[tuple[int, str, int]]:
    """``(local port, state, receive queue bytes)`` of every IPv4 TCP socket (Linux)."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, queues = fields[1], fields[3], fields[4]
        rows.append((int(local.rsplit(":", 1)[1], 16), state, int(queues.split(":")[1], 16)))
    return rows


def receive_queue_bytes(port: int) -> int:
    """Bytes received but not yet read on the established connections to local ``port``."""
    return sum(q for p, state, q in _tcp_table() if p == port and state == _TCP_ESTABLISHED)


class Rsyslog:
    """One rsyslogd with one input of ``kind`` on 127.0.0.1; see the module."""

    def __init__(
        self,
        directory: Path,
        *,
        kind: Kind = "tcp",
        port: int | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        if kind in ("tls", "relp-tls") and tls is None:
            raise ValueError(f"kind {kind!r} needs tls files")
        self.directory = directory
        self.kind: Kind = kind
        self.port = port if port is not None else free_port()
        self.tls = tls
        self.output = directory / "messages.log"
        self.headers = directory / "headers.log"
        self.config_file = directory / "rsyslog.conf"
        self.stderr_file = directory / "rsyslogd.stderr"
        self.pid_file = directory / "rsyslogd.pid"
        self.work = directory / "work"
        self.process: subprocess.Popen[bytes] | None = None
        self._paused = False

    def config(self) -> str:
        """The whole ``rsyslog.conf``."""
        global_params = [
            f"workDirectory={_quote(self.work)}",
            'maxMessageSize="64k"',
            'parser.escapeControlCharactersOnReceive="off"',
        ]
        module = 'module(load="imtcp")'
        input_params = [
            'address="127.0.0.1"',
            f'port="{self.port}"',
            'ruleset="audit"',
        ]
        if self.kind == "tls":
            assert self.tls is not None
            global_params += [
                f"defaultNetstreamDriverCAFile={_quote(self.tls.ca)}",
                f"defaultNetstreamDriverCertFile={_quote(self.tls.cert)}",
                f"defaultNetstreamDriverKeyFile={_quote(self.tls.key)}",
            ]
            module = (
                'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" '
                'streamDriver.authMode="anon")'
            )
        elif self.kind in ("relp", "relp-tls"):
            module = 'module(load="imrelp")'
            if self.kind == "relp-tls":
                assert self.tls is not None
                input_params += [
                    'tls="on"',
                    f"tls.caCert={_quote(self.tls.ca)}",
                    f"tls.myCert={_quote(self.tls.cert)}",
                    f"tls.myPrivKey={_quote(self.tls.key)}",
                    'tls.authMode="certvalid"',
                ]
        input_type = "imtcp" if self.kind in ("tcp", "tls") else "imrelp"
        return "\n".join(
            [
                f"global({' '.join(global_params)})",
                'main_queue(queue.type="Direct")',
                module,
                'module(load="mmpstrucdata")',
                'template(name="msg" type="string" string="%msg%\\n")',
                'template(name="headers" type="list" option.jsonf="on") {',
                '  property(outname="pri" name="pri" format="jsonf")',
                '  property(outname="timestamp" name="timereported" dateFormat="rfc3339"'
                ' format="jsonf")',
                '  property(outname="hostname" name="hostname" format="jsonf")',
                '  property(outname="app_name" name="app-name" format="jsonf")',
                '  property(outname="procid" name="procid" format="jsonf")',
                '  property(outname="msgid" name="msgid" format="jsonf")',
                '  property(outname="structured_data" name="structured-data" format="jsonf")',
                '  property(outname="sd" name="$!rfc5424-sd" format="jsonf")',
                "}",
                'ruleset(name="audit") {',
                '  action(type="mmpstrucdata")',
                f'  action(type="omfile" file={_quote(self.output)} template="msg")',
                f'  action(type="omfile" file={_quote(self.headers)} template="headers")',
                "}",
                f"input(type={_quote(input_type)} {' '.join(input_params)})",
                "",
            ]
        )

    def start(self, deadline_s: float = 20.0) -> None:
        """Start rsyslogd; return once the port listens (raise ``RsyslogError`` if not)."""
        assert RSYSLOGD is not None, "rsyslogd is not installed"
        assert self.process is None, "already running"
        self.work.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.config())
        with self.stderr_file.open("ab") as stderr:
            self.process = subprocess.Popen(
                [RSYSLOGD, "-n", "-f", str(self.config_file), "-i", str(self.pid_file)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )
        deadline = time.monotonic() + deadline_s
        while not any(p == self.port and s == _TCP_LISTEN for p, s, _ in _tcp_table()):
            if self.process.poll() is not None:
                self.process = None
                raise RsyslogError(f"rsyslogd exited at start:\n{self.stderr()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RsyslogError(f"rsyslogd not listening after {deadline_s}s:\n{self.stderr()}")
            time.sleep(_POLL)

    def pause(self) -> None:
        """SIGSTOP: connections stay up, nothing is read or answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self._paused = True

    def stop(self, deadline_s: float = 20.0) -> None:
        """SIGTERM (SIGCONT after it if paused) and wait; SIGKILL and fail after the deadline."""
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        if self._paused:
            process.send_signal(signal.SIGCONT)
            self._paused = False
        try:
            process.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RsyslogError(
                f"rsyslogd still running {deadline_s}s after SIGTERM:\n{self.stderr()}"
            ) from None

    def stderr(self) -> str:
        try:
            return self.stderr_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # --- what arrived --------------------------------------------------------------------

    def messages(self) -> list[bytes]:
        """The MSG of every message written so far (whole lines only)."""
        try:
            data = self.output.read_bytes()
        except FileNotFoundError:
            return []
        return data.split(b"\n")[:-1]

    def wait_for_messages(self, count: int, deadline_s: float = 60.0) -> list[bytes]:
        """Poll until at least ``count`` messages are written (a bound on a hang)."""
        deadline = time.monotonic() + deadline_s
        while len(found := self.messages()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(found)} of {count} messages after {deadline_s}s\n{self.stderr()}"
                )
            if self.process is not None and self.process.poll() is not None:
                raise RsyslogError(f"rsyslogd exited:\n{self.stderr()}")
            time.sleep(_POLL)
        return found

    def header_records(self) -> list[dict[str, Any]]:
        """The header parts of every message written so far."""
        try:
            data = self.headers.read_bytes()
        except FileNotFoundError:
            return []
        records = [json.loads(line) for line in data.split(b"\n")[:-1]]
        assert all(isinstance(r, dict) for r in records)
        return records


@contextmanager
def running_rsyslog(
    directory: Path, *, kind: Kind = "tcp", tls: TlsFiles | None = None
) -> Iterator[Rsyslog]:
    """An :class:`Rsyslog` started for the block and stopped after it."""
    rsyslog = Rsyslog(directory, kind=kind, tls=tls)
    rsyslog.start()
    try:
        yield rsyslog
    finally:
        rsyslog.stop()
