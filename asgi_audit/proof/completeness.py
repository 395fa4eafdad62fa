"""Is everything there that the ledger says should be, and nothing it does not know?

PURE: no event loop, no file. The chains of the lines say which line of a
stream is missing or out of place; only the ledger says which streams and
files should exist at all. These checks compare the two:

``wrong file`` / ``wrong category``
    a line of a stream the ledger announced for another file or category;
``foreign stream``
    lines of a stream the ledger never announced: sealed elsewhere (another
    directory, another host, even with the same key) and brought in;
``missing stream``
    a stream the ledger announced, of which no line is left (and retention
    deleted none);
``missing file``
    a rotated file the ledger recorded, neither present nor retired;
``renamed file``
    a file whose content is a recorded rotated file's under another name;
``copied file``
    a rotated file no record names, holding the bytes of a recorded one that is
    present under its own name: planted so that the original's lines would read
    as inserted; it is not read;
``modified``
    a recorded rotated file present under its name with other bytes;
``rolled back``
    the ledger ends before, or differs from, an anchor that left the host.

What none of this can rule out without an anchor is said by :func:`caveats`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Final

from .findings import Break, State
from .ledger import Announce, LedgerFacts

__all__ = (
    "anchor_breaks",
    "caveats",
    "copied_files",
    "file_breaks",
    "renamed_files",
    "silences",
    "stream_breaks",
    "unrecorded",
)

#: How many checkpoint intervals may pass without a record before the silence is named.
_HEARTBEAT_SLACK: Final = 3


def stream_breaks(
    announced: Mapping[str, Announce],
    streams: Mapping[str, State],
    retired_upto: Mapping[str, int],
    ledger_file: str,
) -> list[Break]:
    """Foreign streams (lines, no announcement) and missing ones (announcement, no lines).

    With no announcement at all (no ledger, or one that says nothing) every
    stream would be foreign: the ledger's own breaks say so once instead.
    """
    breaks: list[Break] = []
    if not announced:
        return breaks
    for stream, state in streams.items():
        if stream in announced:
            continue
        first = state.first
        breaks.append(
            Break(
                first.file if first else "",
                first.line if first else 0,
                "foreign stream",
                stream,
                "the ledger never announced this stream: its lines were sealed elsewhere "
                "and brought in",
            )
        )
    for stream, announce in announced.items():
        if stream in streams or retired_upto.get(stream):
            continue
        breaks.append(
            Break(
                ledger_file,
                announce.where.line,
                "missing stream",
                stream,
                f"announced for {announce.file} ({announce.category}) by pid {announce.pid} on "
                f"{announce.host}; no line of it is left (deleted, or the writer died before "
                "its first write)",
            )
        )
    return breaks


def file_breaks(
    facts: LedgerFacts,
    present: Mapping[str, tuple[int, str, str]],
    ledger_file: str,
    covered: Callable[[str, int, int], bool] | None = None,
    merged: list[str] | None = None,
) -> list[Break]:
    """Rotated files recorded in the ledger against the files present.

    A recorded file may be present as itself or gzipped (by the app, which
    records it, or by any other tool: its content must then be the recorded
    bytes); else it was deleted by retention (which says so), renamed (its bytes
    are found under another name) or is missing.

    Args:
        facts: what the verified records say.
        present: every rotated file present, plain or gzipped: name -> (size,
            SHA-256, SHA-256 of its content: what a ``.gz`` holds).
        ledger_file: the ledger's name, for the breaks.
        covered: whether every line ``first..last`` of a stream was read (in
            any file): a recorded file that is gone, but whose every line is
            elsewhere (a shipped copy merges a category's files), is no break.
        merged: collects the names of such files, for the caller to say.
    """
    breaks: list[Break] = []
    renamed = renamed_files(facts, present)
    for name, rotated in facts.rotated.items():
        gz = name + ".gz"
        if name in present:
            if present[name][2] != rotated.sha256:
                breaks.append(
                    Break(
                        name,
                        0,
                        "modified",
                        None,
                        f"its bytes are not those the ledger recorded at rotation "
                        f"(record n={rotated.where.n})",
                    )
                )
            continue
        if gz in present:
            if present[gz][2] != rotated.sha256:
                breaks.append(
                    Break(
                        gz,
                        0,
                        "modified",
                        None,
                        f"what it holds is not what the ledger recorded of {name} at rotation "
                        f"(record n={rotated.where.n})",
                    )
                )
            continue
        if name in facts.retired or gz in facts.retired:
            continue  # deleted by retention, which said so
        moved = renamed.get(name)
        if (
            moved is None
            and covered is not None
            and rotated.ranges
            and all(
                covered(stream, first, last) for stream, (first, last, _) in rotated.ranges.items()
            )
        ):
            if merged is not None:
                merged.append(name)
            continue
        if moved is not None:
            breaks.append(
                Break(
                    moved,
                    0,
                    "renamed file",
                    None,
                    f"this is {name}, rotated at {rotated.timestamp} (ledger record "
                    f"n={rotated.where.n}), under another name",
                )
            )
        else:
            breaks.append(
                Break(
                    ledger_file,
                    rotated.where.line,
                    "missing file",
                    None,
                    f"{name} (rotated at {rotated.timestamp}, {len(rotated.ranges)} stream(s)) "
                    "is gone, and no retention record says it was deleted",
                )
            )
    return breaks


def renamed_files(
    facts: LedgerFacts, present: Mapping[str, tuple[int, str, str]]
) -> dict[str, str]:
    """Recorded rotated files found under another name: recorded name -> name now.

    A recorded file that is neither present (plain or gzipped) nor retired, whose
    bytes another present file holds.
    """
    by_content: dict[str, str] = {}
    for name, (_, _, content) in present.items():
        by_content.setdefault(content, name)
    renamed: dict[str, str] = {}
    for name, rotated in facts.rotated.items():
        gz = name + ".gz"
        if name in present or gz in present or name in facts.retired or gz in facts.retired:
            continue
        moved = by_content.get(rotated.sha256)
        if moved is not None:
            renamed[name] = moved
    return renamed


def copied_files(
    facts: LedgerFacts, present: Mapping[str, tuple[int, str, str]]
) -> dict[str, Break]:
    """Rotated files that are copies of a recorded one present under its own name.

    A rotated file no record names may be genuine (rotated by a tool that does not
    write the ledger); one holding the very bytes of a recorded file that is still
    there cannot be: two rotations never leave the same bytes. Read, its lines
    would make the original's look inserted; it is named instead, and not read.

    Args:
        facts: what the verified records say.
        present: as for :func:`file_breaks`.
    """
    originals: dict[str, tuple[str, int]] = {}  # content SHA-256 -> (file, record n)
    for name, rotated in facts.rotated.items():
        for candidate in (name, name + ".gz"):
            have = present.get(candidate)
            if have is not None and have[2] == rotated.sha256:
                originals.setdefault(rotated.sha256, (candidate, rotated.where.n))
    copies: dict[str, Break] = {}
    for name, (_, _, content) in present.items():
        named = name in facts.rotated or name in facts.compressed
        if named or (name.endswith(".gz") and name[: -len(".gz")] in facts.rotated):
            continue
        original = originals.get(content)
        if original is not None:
            detail = f"a copy of {original[0]} (ledger record n={original[1]}): not read"
            copies[name] = Break(name, 0, "copied file", None, detail)
    return copies


def anchor_breaks(
    facts: LedgerFacts, n: int, digest: str, ledger_file: str, source: str
) -> list[Break]:
    """The ledger against an anchor: record ``n`` whose line hashes to ``digest``."""
    have = facts.hashes.get(n)
    if have == digest:
        return []
    last = facts.last.n if facts.last is not None else -1
    if have is None and last < n:
        detail = (
            f"the anchor ({source}) is record n={n}; the ledger ends at n={last}: "
            "records were cut, or the directory was rolled back to an earlier copy"
        )
    elif have is None:
        detail = f"record n={n} of the anchor ({source}) is missing or does not verify"
    else:
        detail = (
            f"record n={n} differs from the anchor ({source}): the ledger was replaced "
            "or rewritten since"
        )
    return [Break(ledger_file, 0, "rolled back", None, detail)]


def silences(facts: LedgerFacts, now: float) -> list[str]:
    """Writers whose records stop without a ``stop`` record, and when.

    Every writer writes a checkpoint each interval, also when idle; one whose last
    record is followed by more than :data:`_HEARTBEAT_SLACK` intervals of silence
    (in the ledger's later records, or until ``now``) stopped then: killed, its host
    down, or its later records cut. Not an alteration by itself: said, not a break.
    """
    interval = facts.interval
    if not interval:
        return []
    said = []
    newest = max((_seconds(w.last) for w in facts.writers.values()), default=0.0)
    for (host, pid), writer in sorted(facts.writers.items(), key=lambda kv: kv[1].where.n):
        if writer.stopped:
            continue
        silent_until = max(newest, now)
        last = _seconds(writer.last)
        if silent_until - last > _HEARTBEAT_SLACK * interval:
            said.append(
                f"the writer pid {pid} on {host[:64]} (started {writer.started}) wrote its last "
                f"record at {writer.last} (n={writer.where.n}) and no stop record: it stopped "
                "then (killed, or its host went down), or its later records were cut"
            )
    return said


def _seconds(timestamp: str) -> float:
    try:
        return datetime.datetime.fromisoformat(timestamp).timestamp()
    except ValueError:
        return 0.0


def caveats(facts: LedgerFacts, anchored: bool, now: float) -> list[str]:
    """What verify cannot rule out, in words, given what it had."""
    said: list[str] = []
    if not anchored:
        last = facts.last
        ends = (
            f"the ledger ends at n={last.n}, {facts.last_timestamp}"
            if last is not None
            else "no ledger record verified"
        )
        said.append(
            "no anchor given: the newest records could have been cut, or the whole "
            f"directory rolled back to an earlier copy, without a trace ({ends}); give "
            "--anchor with a checkpoint shipped off the host to rule it out"
        )
    said += silences(facts, now)
    if facts.scheme == "static":
        said.append(
            "sealed with a static key: whoever held the key (anyone who took the host) "
            "could have re-sealed all of it"
        )
    if facts.scheme == "unkeyed":
        said.append("sealed without a key: anyone could have rewritten all of it")
    return said


def unrecorded(facts: LedgerFacts, present: Mapping[str, tuple[int, str, str]]) -> list[str]:
    """Rotated files present that no ``rotated`` record names: said, not a break.

    A rotation outside the app (``asgi-audit rotate``, a logrotate rule) is not
    recorded; such a file's lines are checked like any other, but its name is not
    proven (and a ledger with no records at all says nothing of any file).
    """
    if not facts.verified:
        return []
    recorded = {*facts.rotated, *(name + ".gz" for name in facts.rotated)}
    contents = {r.sha256 for r in facts.rotated.values()}
    names = sorted(n for n, (_, _, c) in present.items() if n not in recorded and c not in contents)
    if not names:
        return []
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return [
        f"{len(names)} rotated file(s) the ledger never recorded ({shown}): rotated outside "
        "the app, or planted; their lines are checked, their names are not proven"
    ]
