"""The per-event pipeline the writer runs: build, redact, cap, encode.

PURE: no event loop, no file. Composed once from the Auditor's options; the
writer calls :meth:`Pipeline.encode_batch` for each batch of captured events,
never on the request path.

This module is the reference. When the compiled core is installed (and
``ASGI_AUDIT_PURE`` is unset, see :mod:`asgi_audit.record.engine`), the native
output format of a batch is made by the core's ``Pipeline`` without the GIL, with
the same bytes; an event the core cannot decide alike (text outside ASCII that
redaction reads, objects other than plain JSON values, a line over the size cap,
an exception's stack trace) is given back and encoded here, with the id and the
``seq`` the batch gave it. The ids come from one generator either way, the core's
when it is installed.
"""

from __future__ import annotations

import hmac
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

from ..proof.integrity import SEAL_BYTES, Chain
from .ecs import NAMESPACE as ECS_NAMESPACE
from .ecs import to_ecs
from .encoding import (
    INT_MAX,
    INT_MIN,
    Caps,
    clean_str,
    encode_line,
    mark_cuts,
    to_jsonable,
    truncate,
)
from .engine import compiled_module
from .events import UNKNOWN_OUTCOME, RawEvent, Uuid7Generator, build_event, format_timestamp
from .nested import NotPlain, redact_capped
from .ocsf import UNMAPPED as OCSF_UNMAPPED
from .ocsf import to_ocsf
from .redaction import Redactor
from .streams import batch_streams

__all__ = ("ChainFor", "Group", "OutputFormat", "Pipeline", "Prepared", "SessionIdMode")

SessionIdMode = Literal["hash", "raw", "omit"]
OutputFormat = Literal["native", "ecs", "ocsf"]
#: One category's lines of a batch (:meth:`Pipeline.encode_grouped`): the category,
#: the lines joined, how many, the index of the first, how many of them are real.
Group = tuple[str, bytes, int, int, int]
ChainFor = Callable[[str], Chain | None]
#: What the core takes with a batch (:meth:`Pipeline.prepare_core`).
Prepared = tuple[
    Any, list[int | None], list[Chain], list[tuple[str, int, dict[str, Any]]], list[Any]
]

# Top-level fields the library makes itself (or hashes, for ``session_id``):
# nothing to redact in them.
_GENERATED: Final = frozenset(
    {"timestamp", "epoch_ms", "event_id", "category", "schema_version", "session_id"}
)
# Fields whose key names no secret although it may look like one; their text is
# still scanned (a request id comes from the client).
_TEXT_ONLY: Final = frozenset({"event_type", "outcome", "request_id"})
_SESSION_CACHE_SIZE: Final = 4096


class Pipeline:
    """Turns a :class:`RawEvent` into one encoded line.

    Args:
        redactor: masks secrets; None turns redaction off (not recommended).
        caps: string and event size caps.
        session_ids: ``"hash"`` (default) stores a keyed hash of the session id,
            stable for a given key so events still correlate; ``"raw"`` stores it
            as sent; ``"omit"`` leaves it out.
        session_key: the key of that hash.
    """

    __slots__ = (
        "_caps",
        "_ids",
        "_native",
        "_profile",
        "_redactor",
        "_session_hashes",
        "_session_ids",
        "_session_key",
    )

    def __init__(
        self,
        *,
        redactor: Redactor | None,
        caps: Caps,
        session_ids: SessionIdMode,
        session_key: bytes,
        output_format: OutputFormat = "native",
    ) -> None:
        if output_format not in ("native", "ecs", "ocsf"):
            raise ValueError(
                f"output_format must be 'native', 'ecs' or 'ocsf', got {output_format!r}"
            )
        # An output profile: the document of the native event, and the object of it
        # that holds the seal (see asgi_audit.proof.integrity).
        self._profile: tuple[Callable[[dict[str, Any]], dict[str, Any]], str] | None = (
            None
            if output_format == "native"
            else (to_ecs, ECS_NAMESPACE)
            if output_format == "ecs"
            else (to_ocsf, OCSF_UNMAPPED)
        )
        self._redactor = redactor
        self._caps = caps
        self._session_ids = session_ids
        self._session_key = session_key
        # Session ids repeat from request to request: each is hashed once.
        self._session_hashes: dict[str, str] = {}
        module = compiled_module()
        if module is not None and not hasattr(module, "Pipeline"):
            module = None  # a core from before the pipeline: its scanner only
        # One generator for both paths, so a file's lines keep the order of their ids.
        self._ids: Any = Uuid7Generator() if module is None else module.Uuid7Generator()
        self._native: Any = None
        if module is not None and self._profile is None:
            core = None if redactor is None else _core_of(redactor)
            if redactor is None or core is not None:
                self._native = module.Pipeline(
                    core,
                    dict(caps.fields),
                    caps.default_chars,
                    caps.max_event_bytes,
                    caps.max_items,
                    session_ids,
                    session_key,
                    SEAL_BYTES,
                    self._ids,
                )

    @property
    def native(self) -> bool:
        """Whether batches run on the compiled core (see the module)."""
        return self._native is not None

    def hash_session_id(self, session_id: str) -> str:
        """The stored form of a session id: 32 hex chars of HMAC-SHA256."""
        cached = self._session_hashes.get(session_id)
        if cached is not None:
            return cached
        digest = hmac.digest(self._session_key, session_id.encode("utf-8", "replace"), "sha256")
        hashed = "h:" + digest.hex()[:32]
        if len(self._session_hashes) >= _SESSION_CACHE_SIZE:
            self._session_hashes.clear()
        self._session_hashes[session_id] = hashed
        return hashed

    def build(self, raw: RawEvent, event_id: str | None = None) -> dict[str, Any]:
        """The redacted, capped event dict (before encoding); ``event_id`` is
        drawn when not given.

        One pass over the top-level fields does what :func:`to_jsonable`,
        :meth:`Redactor.redact` and :meth:`Caps.apply` would do in three: a
        string is cleaned, redacted and capped at once; only containers and
        other objects take the general path.
        """
        event = build_event(raw, self._ids.new(raw.time_ns) if event_id is None else event_id)
        sid = event.get("session_id")
        if sid is not None:
            if self._session_ids == "hash":
                event["session_id"] = self.hash_session_id(sid if type(sid) is str else str(sid))
            elif self._session_ids == "omit":
                del event["session_id"]
            else:  # stored as given, but as JSON can hold it (a lone surrogate, a huge int)
                event["session_id"] = clean_str(sid) if type(sid) is str else to_jsonable(sid)
        redactor = self._redactor
        caps = self._caps
        field_caps = caps.fields
        default_chars = caps.default_chars
        cut: dict[str, int] = {}
        for key, value in event.items():
            if key in _GENERATED:
                continue
            t = type(value)
            if t is int or t is float or value is True or value is False:
                if redactor is not None and key not in _TEXT_ONLY and redactor.is_secret_key(key):
                    event[key] = redactor.mask
                elif t is int and not INT_MIN <= value <= INT_MAX:
                    event[key] = str(value)
                continue
            if t is str:
                if not value.isascii():
                    value = clean_str(value)
                if redactor is not None:
                    if key in _TEXT_ONLY or not redactor.is_secret_key(key):
                        value = redactor.redact_text(value)
                    else:
                        value = redactor.mask
            elif (
                (t is dict or t is list)
                and redactor is not None
                and not redactor.is_secret_key(key)
            ):
                # Plain JSON (the usual details): redacted and capped in one walk.
                try:
                    value, changed = redact_capped(value, redactor, caps)
                except NotPlain:
                    value, changed = caps.nested(redactor.redact(to_jsonable(value), key))
                if changed:
                    cut[key] = -1
                event[key] = value
                continue
            else:
                value = to_jsonable(value)
                if redactor is not None:
                    value = redactor.redact(value, key)
            if type(value) is str:
                cap = field_caps.get(key, default_chars)
                if len(value) > cap:
                    cut[key] = len(value)
                    value = truncate(value, cap)
            else:
                value, changed = caps.nested(value)
                if changed:
                    cut[key] = -1
            event[key] = value
        if cut:
            mark_cuts(event, cut)
        if not all(map(str.isascii, event)):
            # A caller's field name with a lone surrogate: orjson would refuse it.
            event = {clean_str(k): v for k, v in event.items()}
        return event

    def encode(
        self, raw: RawEvent, chain: Chain | None = None, *, event_id: str | None = None
    ) -> bytes:
        """One line for ``raw``, sealed into ``chain`` when given.

        A failure anywhere still gives a line saying so (``encoding_error``), so an
        event never silently disappears and the chain has no hole.
        """
        line = self._unsealed(raw, chain, event_id, None)
        return line if chain is None else chain.seal(line)

    def encode_batch(
        self, raws: Sequence[RawEvent], chain_for: Callable[[str], Chain | None]
    ) -> list[bytes]:
        """The lines of a batch: ``[self.encode(raw, chain_for(raw.category)) for raw
        in raws]``, the same bytes and the chains left alike, on the compiled core
        where it serves (without the GIL), else on the reference."""
        return self._encode_batch(raws, chain_for, None)

    def _encode_batch(
        self,
        raws: Sequence[RawEvent],
        chain_for: Callable[[str], Chain | None],
        ids: list[str] | None,
    ) -> list[bytes]:
        # ``ids``: the event ids to use instead of drawing them (the tests).
        if self._native is None:
            return [
                self.encode(raw, chain_for(raw.category), event_id=None if ids is None else ids[i])
                for i, raw in enumerate(raws)
            ]
        slots, chains, stamps = batch_streams(raws, chain_for)
        try:
            out = self._native.encode_batch(list(raws), slots, stamps, ids)
        except Exception:  # a bug in the core: the reference encodes the batch
            out = self.draw_ids(raws, ids)
        return self.complete_core(raws, slots, chains, out)

    def encode_grouped(
        self, raws: Sequence[RawEvent], chain_for: Callable[[str], Chain | None], real: int
    ) -> tuple[list[Group], bool] | list[bytes]:
        """The batch's lines sealed and grouped by category as the writer appends
        them, in one call to the compiled core that holds the GIL only to read
        the events: ``(groups, durable)``, each group ``(category, data, count,
        first, real)`` (its lines joined, how many, the index of its first event,
        how many of them are among the first ``real`` events), in order of first
        appearance; ``durable`` when any event is. The chains are left as
        :meth:`encode_batch` leaves them.

        Where the core cannot take the whole batch (no core, a chain the
        reference seals, an event only the reference can encode), the lines of
        :meth:`encode_batch` instead, each sealed.
        """
        return self._encode_grouped(raws, chain_for, real, None)

    def _encode_grouped(
        self,
        raws: Sequence[RawEvent],
        chain_for: Callable[[str], Chain | None],
        real: int,
        ids: list[str] | None,
    ) -> tuple[list[Group], bool] | list[bytes]:
        prepared = self.prepare_core(raws, chain_for)
        if prepared is None:
            return self._encode_batch(raws, chain_for, ids)
        core, slots, chains, stamps, states = prepared
        try:
            out = core.encode_grouped(list(raws), slots, stamps, states, max(real, 0), ids)
        except Exception:  # a bug in the core: the reference encodes the batch
            out = self.draw_ids(raws, ids)
        if isinstance(out, tuple):
            groups, macs, durable = out
            for slot, (chain, mac) in enumerate(zip(chains, macs, strict=True)):
                chain.advanced(slots.count(slot), mac)
            return groups, durable
        return self.complete_core(raws, slots, chains, out)

    @property
    def core(self) -> Any:
        """The compiled core's pipeline (None: the reference encodes every batch)."""
        return self._native

    @property
    def core_module(self) -> Any:
        """The compiled module of the core's pipeline (None without one)."""
        return None if self._native is None else sys.modules.get(type(self._native).__module__)

    def prepare_core(self, raws: Sequence[RawEvent], chain_for: ChainFor) -> Prepared | None:
        """What the core takes with a batch: ``(core, slots, chains, stamps,
        states)``: each event's stream (an index in the chains, None: unsealed),
        the chains, their stamps and their sealing states. None when there is no
        core, or a chain is the reference's to seal."""
        if self._native is None:
            return None
        slots, chains, stamps = batch_streams(raws, chain_for)
        states = [chain.core_state() for chain in chains]
        if None in states:
            return None
        return self._native, slots, chains, stamps, states

    def draw_ids(self, raws: Sequence[RawEvent], ids: list[str] | None = None) -> list[Any]:
        """An id for each event (``ids`` where given), for the reference to encode them all."""
        return [self._ids.new(raw.time_ns) if ids is None else ids[i] for i, raw in enumerate(raws)]

    def complete_core(
        self, raws: Sequence[RawEvent], slots: list[int | None], chains: list[Chain], out: list[Any]
    ) -> list[bytes]:
        """The lines of a batch the core gave back (its lines as bytes, an id where
        the reference must encode the event), each sealed in turn."""
        seqs = [chain.last.seq for chain in chains]
        lines: list[bytes] = []
        for raw, slot, item in zip(raws, slots, out, strict=True):
            chain = None
            seq = None
            if slot is not None:
                chain = chains[slot]
                seqs[slot] += 1
                seq = seqs[slot]
            if type(item) is not bytes:  # the id drawn for it: the reference encodes it
                item = self._unsealed(raw, chain, item, seq)
            lines.append(item)
        for slot, chain in enumerate(chains):
            at = [i for i, s in enumerate(slots) if s == slot]
            for i, line in zip(at, chain.seal_many([lines[i] for i in at]), strict=True):
                lines[i] = line
        return lines

    def _unsealed(
        self, raw: RawEvent, chain: Chain | None, event_id: str | None, seq: int | None
    ) -> bytes:
        # The line before its seal, stamped for ``chain`` at ``seq`` (the next when None).
        limit = self._caps.max_event_bytes - (SEAL_BYTES if chain is not None else 0)
        try:
            event = self.build(raw, event_id)
            if self._profile is not None:
                line = self._encode_profile(self._profile, event, chain, limit, seq)
            else:
                if chain is not None:
                    chain.stamp(event, seq)
                line = encode_line(event)
                if len(line) > limit:
                    line = self._caps.fit(event, line, limit)
        except Exception as exc:  # a bug here must not lose the event's existence
            # The caller's text, and the error's, may hold what stderr cannot write.
            print(
                clean_str(
                    f"asgi_audit: could not encode a {raw.category}/{raw.event_type} event: "
                    f"{type(exc).__name__}: {exc}"
                ),
                file=sys.stderr,
            )
            fallback = {
                "timestamp": format_timestamp(raw.time_ns),
                "epoch_ms": raw.time_ns // 1_000_000,
                "event_id": self._ids.new(raw.time_ns) if event_id is None else event_id,
                # What the caller gave, made plain: the line must encode.
                "event_type": to_jsonable(raw.event_type),
                "category": raw.category,
                "outcome": UNKNOWN_OUTCOME if raw.outcome is None else to_jsonable(raw.outcome),
                "encoding_error": f"{type(exc).__name__}",
            }
            if chain is not None:
                chain.stamp(fallback, seq)
            line = encode_line(fallback)
        return line

    def _encode_profile(
        self,
        profile: tuple[Callable[[dict[str, Any]], dict[str, Any]], str],
        event: dict[str, Any],
        chain: Chain | None,
        limit: int,
        seq: int | None,
    ) -> bytes:
        # ECS and OCSF documents nest the fields; the size cap is applied to the
        # native event (where the largest fields are known by name), leaving room
        # for what the profile's form adds, and the form is then made again.
        convert, holder = profile
        doc = convert(event)
        if chain is not None:
            chain.stamp(sealed_in(doc, holder), seq)
        line = encode_line(doc)
        if len(line) > limit:
            native = encode_line(event)
            room = limit - max(0, len(line) - len(native)) - 256
            self._caps.fit(event, native, max(room, 256))
            doc = convert(event)
            if chain is not None:
                # Stamping does not move the chain: the same seq again.
                chain.stamp(sealed_in(doc, holder), seq)
            line = encode_line(doc)
        return line


def sealed_in(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """The object ``doc[name]``, made its last field, where the chain stamps and seals
    a profile's document (see :mod:`asgi_audit.proof.integrity`)."""
    holder = doc.pop(name, None)
    found: dict[str, Any] = holder if isinstance(holder, dict) else {}
    doc[name] = found
    return found


def _core_of(redactor: Redactor) -> Any:
    # The compiled redaction behind ``redactor``, when its every decision is the
    # core's (a subclass may decide keys otherwise).
    return redactor._core if type(redactor) is Redactor else None
