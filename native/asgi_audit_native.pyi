"""The compiled core of asgi_audit's secret scanner (see native/README.md)."""

from typing import Any, Final

__version__: Final[str]
#: The version of the semantics; asgi_audit.record.engine uses the module only when it is 1.
ENGINE: Final[int]
#: The version of the sealing format; asgi_audit.record.engine seals with Sealer only
#: when it is its SEAL.
SEAL: Final[int]

class Scanner:
    """A rule table compiled for scanning, the same function as the reference scanner.

    Raises:
        ValueError: a pattern outside the subset, or a keyword not lower-case ASCII.
    """

    def __init__(self, rules: list[tuple[str, list[str], float, bool]]) -> None: ...
    def hits(self, text: str) -> list[tuple[int, int, int]]:
        """(start, end, rule index) per secret, str indexes, sorted; UnicodeEncodeError
        for a str with a lone surrogate."""
    def mask(self, text: str, mask: str) -> str:
        """``text`` with every secret replaced by ``mask``, the spans merged first."""
    def __len__(self) -> int: ...

def _shape_spans(text: str, random: bool) -> list[tuple[int, int]] | None:
    """asgi_audit.record.shapes.shape_spans(text, random) as sorted, distinct spans
    without names; None where only the reference can decide. ``text`` must be ASCII
    (ValueError otherwise). For the tests that hold the two alike."""

def _pair_spans(text: str, words: list[str]) -> list[tuple[int, int]]:
    """asgi_audit.record.pairs.pair_spans with the key decision over ``words``, as spans
    without names in the order found. ``text`` must be ASCII. For the tests."""

def _flag_spans(text: str, words: list[str]) -> list[tuple[int, int]]:
    """asgi_audit.record.pairs.flag_spans, as :func:`_pair_spans`. For the tests."""

def _key_lists() -> list[tuple[str, list[str]]]:
    """The key decision's word lists by their names in asgi_audit.record.secretkeys."""

class Redactor:
    """One string's whole redaction over ``scanner``'s table, the secret ``words``
    (joined, lower-case) and ``mask``: the same function as the reference
    Redactor.redact_text on ASCII text, without the GIL."""

    def __init__(self, scanner: Scanner, words: list[str], mask: str) -> None: ...
    def redact(self, text: str) -> str | None:
        """``text`` masked, or None when it holds no secret; ValueError when ``text`` is
        not ASCII or only the reference can decide."""
    def spans(self, text: str) -> list[tuple[int, int]] | None:
        """The merged spans redact() masks; None where only the reference can decide."""
    def is_secret_key(self, key: str) -> bool:
        """Whether a value under ``key`` (ASCII) is masked whole."""

class Sealer:
    """One stream's sealing under one key and label, the same function as
    asgi_audit.proof.integrity.Chain.seal. ``key`` None or empty: SHA-256; ``prefix``
    is ``,"mac":"<label>:``. The tree is a Frontier's ``size`` and list of subtree
    roots, passed in; each call updates the list in place (ValueError when it is
    not one 32-byte hash per bit set in ``size``)."""

    def __init__(self, key: bytes | None, prefix: bytes) -> None: ...
    def seal(
        self, previous: bytes, size: int, hashes: list[bytes], line: bytes
    ) -> tuple[bytes, bytes]:
        """(sealed line, MAC) of ``line`` chained to ``previous``; its leaf is appended."""
    def seal_many(
        self, previous: bytes, size: int, hashes: list[bytes], lines: list[bytes]
    ) -> tuple[list[bytes], bytes]:
        """(sealed lines, last MAC) of ``lines`` in order, the first chained to
        ``previous`` (the last MAC is ``previous`` for no lines); the hashing runs
        without the GIL."""

class Uuid7Generator:
    """The event ids' generator (``asgi_audit.record.events.Uuid7Generator``),
    shared by a ``Pipeline`` and the Python code that draws ids beside it."""

    def __init__(self) -> None: ...
    def new(self, time_ns: int) -> str:
        """A new id for ``time_ns`` in the canonical 8-4-4-4-12 form."""
    def new_int(self, time_ns: int) -> int:
        """The 128-bit value of a new id for ``time_ns``."""

class Pipeline:
    """The writer's per-event pipeline (native output) for a batch, without the GIL."""

    def __init__(
        self,
        redactor: Redactor | None,
        field_caps: dict[str, int],
        default_chars: int,
        max_event_bytes: int,
        max_items: int,
        session_ids: str,
        session_key: bytes,
        seal_bytes: int,
        ids: Uuid7Generator,
    ) -> None: ...
    def encode_batch(
        self,
        raws: list[object],
        chains: list[int | None],
        stamps: list[tuple[str, int, dict[str, object]]],
        ids: list[str] | None = None,
    ) -> list[bytes | str]:
        """Each event's stamped, unsealed line, or the id drawn for it where the
        reference must encode it; ``chains[i]`` indexes ``stamps`` (stream, last
        seq, first-line fields) for an event of a sealed stream."""
    def encode_grouped(
        self,
        raws: list[object],
        chains: list[int | None],
        stamps: list[tuple[str, int, dict[str, object]]],
        seals: list[tuple[Sealer, bytes, int, list[bytes]]],
        real: int,
        ids: list[str] | None = None,
    ) -> tuple[list[tuple[str, bytes, int, int, int]], list[bytes], bool] | list[bytes | str]:
        """The batch sealed and grouped by category: ``(groups, macs, durable)``,
        each group ``(category, lines joined, count, first index, real count)``,
        ``macs`` each stream's last MAC (``seals[c]``: sealer, previous MAC, frontier
        size and hashes, the hashes updated in place); where any event is the
        reference's, ``encode_batch``'s result and nothing sealed."""
    def start_grouped(
        self,
        lane: Lane,
        raws: list[object],
        chains: list[int | None],
        stamps: list[tuple[str, int, dict[str, object]]],
        seals: list[tuple[Sealer, bytes, int, list[bytes]]],
        real: int,
        files: list[tuple[object, ...]],
        ids: list[str] | None = None,
    ) -> Job:
        """``encode_grouped``'s batch, read now, then encoded, sealed and appended
        on ``lane``'s thread, which never takes the GIL: each category's lines to
        its file in ``files`` (``(category, *AppendFile.core_args())``), under the
        file's lock. The descriptors must stay open and the chains untouched until
        the job is done."""

class Lane:
    """A thread of the core's that runs jobs one at a time without the GIL, and
    the pipe it writes one byte to as each is done."""

    def __init__(self) -> None: ...
    def fileno(self) -> int:
        """The pipe's read end: readable once a job is done."""
    def drain(self) -> None:
        """Read what the thread wrote (call once readable)."""
    def close(self) -> None:
        """Let the thread end once its jobs are done."""

class Job:
    """A batch on a Lane."""

    def done(self) -> bool:
        """Whether the thread is done with it."""
    def finish(
        self,
    ) -> (
        tuple[list[tuple[str, bytes | None, int, int, int, int, int, int]], list[bytes], bool]
        | list[bytes | str]
    ):
        """Once: ``(groups, macs, durable)``, each group ``(category, data, size,
        count, first, real, status, value)``, ``status`` 0 written (``data`` None,
        ``value`` the size after), 1 for the Python append, 2 failed (``value`` the
        errno), 3 no file given; the frontiers' hashes stored back. Or, where an
        event is the reference's, ``encode_batch``'s result, nothing sealed or
        written. RuntimeError when the core failed, before ``done()``, or twice."""

def append_locked(
    lock_fd: int,
    lock_path: bytes,
    lock_ident: tuple[int, int],
    fd: int,
    path: bytes,
    ident: tuple[int, int],
    data: bytes | list[bytes],
    bounds: tuple[int, float, float] | None,
) -> tuple[int, int]:
    """``data`` (bytes, or one batch's pieces, written in order with ``writev``)
    appended to the held file under its lock, without the GIL:
    ``(0, size after)``; ``(1, 0)`` where AppendFile.append must take it (nothing
    written, the lock released); ``(2, errno)`` when the write failed (cut back).
    ``bounds``: ``(max_bytes or -1, low, high)`` (RotationPolicy.bounds), or None."""

def named_fields(fields: dict[str, Any], named: dict[str, Any], details: Any) -> dict[str, Any]:
    """``asgi_audit.record.capture.named_fields``: the caller's extra ``fields``
    first, then the method's own ``named``, then ``details``, in one of the two
    dicts (``fields`` when it has any), every container copied to a depth of 8."""

def own_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``asgi_audit.record.capture.own_fields``: ``fields`` itself, each container
    value replaced by its copy."""

def untrack_event(raw: object) -> None:
    """``asgi_audit.record.capture.untrack_event``: a queued ``RawEvent`` and its
    fields dict out of the garbage collector's sight (nothing for an event with
    an exception, nor for anything but an eight-item tuple)."""
