"""A sink's runner: follows the category files and the ledger, and delivers their lines,
at least once.

IO, in a daemon thread of its own per sink. The files are the source of truth:
the runner reads whole lines from where the sink last acknowledged, one category
at a time (so each category's order is kept), hands them to ``sink.send`` in
batches, and only then moves and saves its position: the inode and offset of the
file it reads, per category, in ``.sink-<name>.json`` (``0600``) in the log
directory. Rotation renames a file and keeps its inode, so the runner finishes the
renamed file before it moves on to the new one; after a restart it finds its
file again by inode among the current and rotated files. The ledger
(``checkpoints.log``, never rotated) is one more such file, looked at first, and
counted in the stats' lag and positions like the others.

Several processes writing one directory (``uvicorn --workers``) each start the
sink, but only the one holding ``.sink-<name>.lock`` delivers; the others stand
by (``standby`` in the stats) and one of them takes over, from the saved
position, if the owner stops.

What it cannot do: resume inside a rotated file that was gzipped or deleted
before the sink had it all. It then starts the current file from its beginning
and counts it as a ``gap`` (reported on stderr and in the stats). A sink seen for
the first time starts at the beginning of the current files (and of any file
rotated since it started), not of the rotated history.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..proof.integrity import CHECKPOINT_FILE
from ..store.reporting import report
from ..store.rotation import rotated_files
from .base import Sink

__all__ = ("SinkRunner", "validate_sink_name")

_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_POLL_S: Final = 1.0
_STANDBY_POLL_S: Final = 2.0


def validate_sink_name(sink: object) -> str:
    """The sink's name if it is a usable one, else raise ``ValueError``/``TypeError``."""
    if not isinstance(sink, Sink):
        raise TypeError(f"A sink needs name, send(lines) and close(): got {sink!r}")
    name = sink.name
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"Invalid sink name {name!r}: use 1-64 of A-Za-z0-9_-")
    return name


@dataclass(slots=True)
class _Follow:
    """Where the runner stands in one category."""

    path: Path  # the category's current file
    reading: Path  # the file read now: the current one, or a rotated one being finished
    fd: int
    inode: int
    offset: int


class SinkRunner:
    """Delivers one directory's lines to one sink (see the module doc)."""

    def __init__(
        self,
        sink: Sink,
        directory: Path,
        *,
        batch_lines: int = 500,
        batch_bytes: int = 1 << 20,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
    ) -> None:
        self.sink = sink
        self.name = validate_sink_name(sink)
        self._dir = directory
        self._position_file = directory / f".sink-{self.name}.json"
        self._lock_file = directory / f".sink-{self.name}.lock"
        self._lock_fd: int | None = None
        #: True while another process of this directory delivers this sink.
        self.standby = True
        self._batch_lines = batch_lines
        self._batch_bytes = batch_bytes
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._follows: dict[str, _Follow] = {}
        self._saved: dict[str, dict[str, int]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_until = 0.0
        self._started_at = time.time()
        self._thread: threading.Thread | None = None
        self.sent_lines = 0
        self.sent_batches = 0
        self.errors = 0
        self.gap = 0
        self.last_error: str | None = None
        self.retrying = False

    # ------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._started_at = time.time()
        self._thread = threading.Thread(target=self._run, name=f"asgi_audit sink {self.name}")
        self._thread.daemon = True
        self._thread.start()

    def wake(self) -> None:
        """New lines were written (thread-safe, never blocks)."""
        self._wake.set()

    def stop(self, deadline: float) -> None:
        """Deliver what the files hold until ``deadline`` (monotonic), then stop."""
        self._drain_until = deadline
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()) + 0.5)
        with contextlib.suppress(Exception):
            self.sink.close()

    def stats(self) -> dict[str, Any]:
        """Counters, the lag in bytes and the positions (read from any thread)."""
        lag = 0
        positions: dict[str, int] = {}
        follows = dict(self._follows)
        with contextlib.suppress(OSError):
            for path in self._paths():
                follow = follows.get(path.name)
                if follow is None:
                    lag += path.stat().st_size  # not looked at yet: all of it is ahead
                    continue
                positions[path.name] = follow.offset
                lag += max(0, os.fstat(follow.fd).st_size - follow.offset)
                if follow.reading != follow.path:
                    lag += path.stat().st_size
        return {
            "sent": self.sent_lines,
            "batches": self.sent_batches,
            "errors": self.errors,
            "last_error": self.last_error,
            "retrying": self.retrying,
            "standby": self.standby,
            "lag_bytes": lag,
            "gap": self.gap,
            "positions": positions,
        }

    # ------------------------------------------------------------ the thread

    def _own(self) -> bool:
        # One process per directory delivers a sink's lines (uvicorn --workers
        # share the files): whoever holds the sink's lock. The others stand by
        # and take over if it goes away.
        fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        self.standby = False
        # The positions as the last owner left them.
        self._saved = self._load_positions()
        return True

    def _run(self) -> None:
        delay = 0.0
        try:
            while not self._own():
                if self._stop.is_set():
                    return
                self._stop.wait(_STANDBY_POLL_S)
            while True:
                stopping = self._stop.is_set()
                if stopping and time.monotonic() >= self._drain_until:
                    return
                try:
                    batch = self._collect()
                except OSError as exc:
                    # A file vanished or could not be read between two looks: the
                    # files are the truth, so look again in a moment.
                    reason = f"reading: {type(exc).__name__}: {exc}"
                    if reason != self.last_error:
                        report(f"sink {self.name!r}: {reason}; trying again")
                    self.last_error = reason
                    if stopping:
                        return
                    self._stop.wait(_POLL_S)
                    continue
                if batch is None:
                    if stopping:
                        return  # caught up
                    self._wake.wait(_POLL_S)
                    self._wake.clear()
                    continue
                name, lines, end = batch
                try:
                    self.sink.send(lines)
                except Exception as exc:
                    self.errors += 1
                    reason = f"{type(exc).__name__}: {exc}"
                    if reason != self.last_error:
                        report(f"sink {self.name!r} failed: {reason}; retrying with backoff")
                    self.last_error = reason
                    self.retrying = True
                    delay = min(delay * 2, self._retry_max) if delay else self._retry_initial
                    if stopping:
                        return  # the files keep the lines for the next start
                    self._stop.wait(delay)
                    continue
                if self.retrying:
                    report(f"sink {self.name!r} delivers again")
                self.retrying = False
                delay = 0.0
                self._follows[name].offset = end
                self.sent_lines += len(lines)
                self.sent_batches += 1
                self._save_positions()
        except Exception as exc:  # a bug here must not pass silently
            report(f"sink {self.name!r} stopped: {type(exc).__name__}: {exc}")
        finally:
            for follow in self._follows.values():
                with contextlib.suppress(OSError):
                    os.close(follow.fd)
            if self._lock_fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._lock_fd)  # closing releases the lock
                self._lock_fd = None

    def _paths(self) -> list[Path]:
        # The files a sink gets: the ledger first, then the categories. The ledger
        # ships too: a record that left the host is the anchor that
        # `asgi-audit verify --anchor` checks a cut or a rollback against.
        paths = sorted(self._dir.glob("*.jsonl"))
        ledger = self._dir / CHECKPOINT_FILE
        if ledger.is_file() and not ledger.is_symlink():
            paths.insert(0, ledger)
        return paths

    def _collect(self) -> tuple[str, list[bytes], int] | None:
        # The first file with whole lines to deliver: (file name, lines, new offset).
        follows = [self._follow(path) for path in self._paths()]
        for follow in follows:
            if follow is None:
                continue
            found = self._read(follow)
            if found is not None:
                return follow.path.name, found[0], found[1]
        return None

    def _read(self, follow: _Follow) -> tuple[list[bytes], int] | None:
        size = self._batch_bytes
        while True:
            data = os.pread(follow.fd, size, follow.offset)
            end = data.rfind(b"\n")
            if end >= 0:
                lines = data[: end + 1].splitlines(keepends=True)[: self._batch_lines]
                return lines, follow.offset + sum(map(len, lines))
            if len(data) < size:
                break  # no whole line yet
            size *= 2  # a line longer than a batch
        # At the end of this file: if it was rotated away, move on to the next one,
        # after one more look for lines appended just before the rotation.
        nxt = self._next_file(follow)
        if nxt is None:
            return None
        if b"\n" in os.pread(follow.fd, self._batch_bytes, follow.offset):
            return self._read(follow)
        try:
            self._switch(follow, nxt)
        except FileNotFoundError:
            return None  # the new current file is not there yet: the next look
        return self._read(follow)

    def _next_file(self, follow: _Follow) -> Path | None:
        # None while the file read is still the category's current one. Once it
        # was rotated (renamed, same inode), the next is the rotated file that
        # came after it, if several rotations went by, else the current file.
        if follow.reading == follow.path:
            try:
                if follow.path.stat().st_ino == follow.inode:
                    return None
            except FileNotFoundError:
                return None
        chain = [p for p in rotated_files(follow.path) if not p.name.endswith(".gz")]
        for index, candidate in enumerate(chain):
            with contextlib.suppress(OSError):
                if candidate.stat().st_ino == follow.inode:
                    later = chain[index + 1 :]
                    return later[0] if later else follow.path
        return follow.path

    def _switch(self, follow: _Follow, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        os.close(follow.fd)
        follow.fd, follow.reading, follow.offset = fd, path, 0
        follow.inode = os.fstat(fd).st_ino
        self._save_positions()

    def _follow(self, path: Path) -> _Follow | None:
        follow = self._follows.get(path.name)
        if follow is not None:
            return follow
        saved = self._saved.get(path.name)
        start, offset = path, 0
        if saved is None:
            # First sight of this category: files rotated since the runner started
            # hold lines it has not seen either (rotation can beat the first look).
            for rotated in rotated_files(path):
                with contextlib.suppress(OSError):
                    if not rotated.name.endswith(".gz") and (
                        rotated.stat().st_mtime >= self._started_at
                    ):
                        start = rotated
                        break
        else:
            found = self._find_inode(path, saved["inode"])
            if found is None:
                self.gap += 1
                report(
                    f"sink {self.name!r}: the file it was reading for {path.name} is gone "
                    "(compressed or deleted); resuming at the current file, lines may be missing"
                )
            else:
                start, offset = found, saved["offset"]
        try:
            fd = os.open(start, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        st = os.fstat(fd)
        if offset > st.st_size:
            offset = 0  # the file was cut back (a recovered partial line): read it again
        follow = _Follow(path, start, fd, st.st_ino, offset)
        self._follows[path.name] = follow
        if saved is None:
            # Remember where this sink starts at once: if it never delivers before
            # the app stops, the next start still begins here, not at a newer file.
            self._save_positions()
        return follow

    def _find_inode(self, path: Path, inode: int) -> Path | None:
        for candidate in [path, *reversed(rotated_files(path))]:
            with contextlib.suppress(OSError):
                if candidate.name.endswith(".gz"):
                    continue
                if candidate.stat().st_ino == inode:
                    return candidate
        return None

    # --------------------------------------------------------------- position

    def _load_positions(self) -> dict[str, dict[str, int]]:
        try:
            data = json.loads(self._position_file.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            report(f"sink {self.name!r}: unreadable position file ({exc}); starting over")
            return {}
        files = data.get("files", {}) if isinstance(data, dict) else {}
        return {
            name: {"inode": int(pos["inode"]), "offset": int(pos["offset"])}
            for name, pos in files.items()
            if isinstance(pos, dict) and "inode" in pos and "offset" in pos
        }

    def _save_positions(self) -> None:
        files: dict[str, dict[str, Any]] = {
            name: {"inode": f.inode, "offset": f.offset, "file": f.reading.name}
            for name, f in self._follows.items()
        }
        for name, pos in self._saved.items():
            if name not in files:
                files[name] = {**pos}
        data = json.dumps({"version": 1, "sink": self.name, "files": files}).encode()
        # A fresh name, created exclusively and never through a link: a name that
        # could be predicted could be planted as a symlink by whoever writes the directory.
        tmp = self._position_file.with_name(
            f"{self._position_file.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        )
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o600)
        try:
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self._position_file)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
