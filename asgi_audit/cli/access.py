"""The audit of the audit trail: each command that reads or changes a trail is
recorded in that trail, before it runs and when it ends.

IO. PCI DSS 10.2.1.3 asks that all access to the audit logs be captured. So
``stats``, ``rotate``, ``tail``, ``query``, ``verify``, ``prove`` and ``keys``,
run on a log directory that holds a trail, record an ``audit_trail_access``
event in that trail's ``audit.jsonl``:

* who: the OS user (``os_user``, ``uid``), the host (``host``) and the process
  (``pid``);
* what: the command (``command``), its arguments as given (``arguments``,
  redacted as any text), the log directory (``log_dir``);
* when: the event's timestamp; ``stage`` ``start`` before the command does
  anything, written durably (the command waits until it is on disk), and
  ``end`` with its ``exit_status`` when it ends (also on Ctrl-C).

They are recorded through an :class:`~asgi_audit.Auditor` of the command's own,
sealed into the trail's chain as a writer process of the app would, with the
key the app uses: ``$ASGI_AUDIT_KEY`` for a static key, else the directory's
forward-secure sealing key (``$ASGI_AUDIT_KEY_DIR``, else the default key
directory of this user). A trail without a ledger (integrity off) gets plain
lines, and no key is made for it.

Where this user cannot write into the trail (a copy on an auditor's machine,
read-only permissions, no sealing key), the command runs all the same and says
on stderr that this access is not recorded: only someone who can write the
trail can record into it. A directory that holds no trail yet (no event file,
no ledger) records nothing and is left as it is.

``$ASGI_AUDIT_RECORD_ACCESS`` chooses: ``on`` (the default, as above),
``require`` (a command that cannot record its start does not run: exit status
2), ``off`` (nothing recorded). This records the use of this command, not every
read of the files: ``cat`` reads them unrecorded. Whoever must record every
read watches the directory with the operating system's audit (auditd's
``-w DIR -p r``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..proof.integrity import CHECKPOINT_FILE

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

__all__ = (
    "AUDIT_CATEGORY",
    "EVENT_TYPE",
    "RECORD_ENV",
    "AccessNotRecorded",
    "Outcome",
    "recorded_access",
    "trail_of",
)

#: The category (file ``audit.jsonl``) and event type of the records.
AUDIT_CATEGORY: Final = "audit"
EVENT_TYPE: Final = "audit_trail_access"
#: The environment variable that chooses: ``on`` (default), ``require`` or ``off``.
RECORD_ENV: Final = "ASGI_AUDIT_RECORD_ACCESS"
_MODES: Final = ("on", "require", "off")
# The longest a command waits for its start record to be on disk.
_START_WITHIN: Final = 10.0


def trail_of(log_dir: Path | None) -> Path | None:
    """``log_dir`` when it holds a trail (an event file or a ledger), else None."""
    if log_dir is None:
        return None
    try:
        with os.scandir(log_dir) as entries:
            names = [entry.name for entry in entries if entry.is_file(follow_symlinks=False)]
    except OSError:
        return None
    if any(name.endswith((".jsonl", ".jsonl.gz")) or name == CHECKPOINT_FILE for name in names):
        return log_dir
    return None


def _who() -> dict[str, Any]:
    uid = os.geteuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no name (a container's)
        user = str(uid)
    return {"os_user": user, "uid": uid, "host": socket.gethostname(), "pid": os.getpid()}


class AccessNotRecorded(RuntimeError):
    """``require``: the command's start could not be recorded, so it did not run."""


def _mode() -> str:
    mode = os.environ.get(RECORD_ENV, "on").strip().lower() or "on"
    if mode not in _MODES:
        raise AccessNotRecorded(f"${RECORD_ENV} is {mode!r}: expected on, require or off")
    return mode


def _not_recorded(reason: object) -> None:
    # The first sentence says why; the rest of a key error is advice for the app.
    why = str(reason).split(". ", 1)[0].rstrip(".")
    print(f"asgi-audit: this access is not recorded in the trail: {why}", file=sys.stderr)


class _Recorder:
    """An Auditor of the command's own, running in a thread's event loop."""

    def __init__(self, portal: BlockingPortal, auditor: Any, fields: dict[str, Any]) -> None:
        self._portal = portal
        self._auditor = auditor
        self._fields = fields

    def record(self, stage: str, **more: Any) -> None:
        auditor, fields = self._auditor, {**self._fields, "stage": stage, **more}
        outcome = "success" if more.get("exit_status", 0) == 0 else "failed"

        async def put() -> None:
            import anyio  # here: a command on no trail never imports the event loop's stack

            with anyio.fail_after(_START_WITHIN):
                await auditor.emit(
                    AUDIT_CATEGORY, EVENT_TYPE, outcome=outcome, durable=True, **fields
                )

        self._portal.call(put)


class Outcome:
    """What the command's block tells the record of its end."""

    status: int = 0


@contextlib.contextmanager
def recorded_access(command: str, arguments: list[str], log_dir: Path | None) -> Iterator[Outcome]:
    """Record ``command`` on ``log_dir``'s trail before the block and after it; the
    block sets ``status`` on what it is given, the exit status of the end record.

    Raises:
        AccessNotRecorded: ``require`` and the start could not be recorded (the
            block does not run), or ``$ASGI_AUDIT_RECORD_ACCESS`` is not a mode.
    """
    outcome = Outcome()
    mode = _mode()
    trail = None if mode == "off" else trail_of(log_dir)
    with contextlib.ExitStack() as stack:
        recorder = None if trail is None else _start(stack, command, arguments, trail, mode)
        try:
            yield outcome
        finally:
            if recorder is not None:
                try:
                    recorder.record("end", exit_status=outcome.status)
                except Exception as exc:  # the trail failed meanwhile: say so
                    _not_recorded(f"the end of this command ({exc})")


def _start(
    stack: contextlib.ExitStack, command: str, arguments: list[str], trail: Path, mode: str
) -> _Recorder | None:
    # The API and AnyIO, imported only when a trail is recorded.
    from anyio.from_thread import start_blocking_portal

    from ..auditor import Auditor

    sealed = (trail / CHECKPOINT_FILE).exists()
    options: dict[str, Any] = {"self_audit": False, "fsync": "always"}
    if not sealed:
        # No ledger: the trail is not sealed. A key of no use keys the session ids,
        # so none is made on disk for this directory.
        options.update(integrity=False, key=os.urandom(32))
    fields = {
        "command": command,
        "arguments": arguments,
        "log_dir": str(trail.resolve()),
        **_who(),
    }
    try:
        portal = stack.enter_context(start_blocking_portal())
        auditor = Auditor(log_dir=trail, **options)
        stack.enter_context(portal.wrap_async_context_manager(auditor))
        recorder = _Recorder(portal, auditor, fields)
        recorder.record("start")
    except Exception as exc:
        stack.close()
        if mode == "require":
            raise AccessNotRecorded(
                f"this command was not run: its access could not be recorded in the trail"
                f" (${RECORD_ENV}=require): {exc}"
            ) from None
        _not_recorded(exc)
        return None
    return recorder
