"""``asgi-audit prove``: a proof a third party checks with the public key alone.

    asgi-audit prove EVENT_ID [LOG_DIR] [--out FILE]
    asgi-audit prove --since RECORD_FILE [LOG_DIR] [--out FILE]
    asgi-audit prove --check PROOF_FILE --verification-key FILE

The first writes the inclusion proof of one event: its line, the Merkle audit path
to the root a signed checkpoint committed, that checkpoint and the records that
certify its key (see :mod:`asgi_audit.proof.inclusion`). The second writes a
consistency proof: that every stream of an old checkpoint record (one an auditor
kept, or a sink shipped) only grew since. ``--check`` checks either kind with a
verification key (the public one is enough) and exits 0 if it holds, 1 if not.
Forward-secure logs only: a static key's HMACs cannot be checked by a third party.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson

from ..proof.inclusion import (
    ProofError,
    check_consistency,
    check_inclusion,
    consistency_document,
    inclusion_document,
)
from ..proof.integrity import CHECKPOINT_FILE, seal_fields, split_mac
from ..proof.keyfiles import read_verification_key
from ..proof.merkle import TreeBuilder, leaf_hash
from ..store.listing import list_event_files
from ..store.opening import open_file
from ..store.reading import iter_lines, open_event_file
from .common import (
    EXIT_ALTERED,
    EXIT_OK,
    CliError,
    Command,
    add_log_dir,
    checked_log_dir,
    last_record,
)
from .output import dump, shown

__all__ = ("PROVE",)

_RECORD_CAP: Final = 8 << 20


def _ledger(log_dir: Path) -> list[tuple[dict[str, Any], bytes]]:
    """Every parseable record of the ledger with its exact line (unchecked: the
    proof's reader checks what it is given)."""
    records = []
    try:
        with open_file(log_dir / CHECKPOINT_FILE, compressed=False) as fh:
            for _, line in iter_lines(fh, cap=_RECORD_CAP):
                try:
                    record = orjson.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("n"), int):
                    records.append((record, line))
    except OSError as exc:
        raise CliError(f"cannot read the ledger of {str(log_dir)!r}: {exc}") from None
    return records


def _scan(log_dir: Path) -> Iterator[bytes]:
    """Every line of every event file, oldest first per category."""
    for files in list_event_files(log_dir).categories.values():
        for f in files:
            try:
                with open_event_file(f) as fh:
                    yield from (line for _, line in iter_lines(fh))
            except OSError:
                continue  # gone since listed, or unreadable: verify names it


def _find(log_dir: Path, event_id: str) -> bytes:
    needle = f'"event_id":"{event_id}"'.encode()
    return next((line for line in _scan(log_dir) if needle in line), b"")


def _leaves(log_dir: Path, stream: str) -> TreeBuilder:
    """The Merkle leaves (of the bodies) of ``stream``'s lines 1, 2, ... up to a gap."""
    marker = f'"stream":"{stream}"'.encode()
    bodies: dict[int, bytes] = {}
    for line in _scan(log_dir):
        split = split_mac(line) if marker in line else None
        if split is not None:
            event = seal_fields(orjson.loads(split[0]), line) or {}
            seq = event.get("seq")
            if event.get("stream") == stream and isinstance(seq, int):
                bodies.setdefault(seq, split[0])
    tree = TreeBuilder()
    seq = 1
    while seq in bodies:
        tree.append(leaf_hash(bodies[seq]))
        seq += 1
    return tree


def _certificates(records: list[tuple[dict[str, Any], bytes]], before: int) -> list[bytes]:
    return [
        line
        for record, line in records
        if record["n"] < before and record.get("type") in ("genesis", "key")
    ]


def _prove_event(log_dir: Path, event_id: str) -> dict[str, Any]:
    line = _find(log_dir, event_id)
    split = split_mac(line) if line else None
    if split is None:
        raise CliError(f"no sealed event {shown(event_id, 64)!r} in {str(log_dir)!r}")
    event = seal_fields(orjson.loads(split[0]), line)
    if event is None:
        raise CliError(f"no sealed event {shown(event_id, 64)!r} in {str(log_dir)!r}")
    stream, seq = event["stream"], event["seq"]
    tree = _leaves(log_dir, stream)
    if tree.size < seq:
        raise CliError(f"lines before seq {seq} of stream {stream} are gone: no proof")
    records = _ledger(log_dir)
    for record, record_line in reversed(records):
        head = (
            (record.get("streams") or {}).get(stream)
            if record.get("type") == "checkpoint"
            else None
        )
        if isinstance(head, dict) and seq <= head.get("seq", 0) <= tree.size:
            size = head["seq"]
            path = tree.inclusion_proof(seq - 1, size)
            certificates = _certificates(records, record["n"])
            return inclusion_document(line, seq, size, path, record_line, certificates)
    raise CliError(f"no checkpoint commits event {shown(event_id, 64)!r} yet: try after the next")


def _prove_since(log_dir: Path, old_line: bytes) -> dict[str, Any]:
    try:
        old = orjson.loads(old_line)
    except ValueError:
        raise CliError("the old record is not a ledger record") from None
    wanted = old.get("streams") if isinstance(old, dict) else None
    if not isinstance(wanted, dict) or not isinstance(old.get("n"), int):
        raise CliError("the old record is not a checkpoint record")
    records = _ledger(log_dir)
    trees = {stream: _leaves(log_dir, stream) for stream in wanted}
    for record, record_line in reversed(records):
        heads = record.get("streams") if record.get("type") == "checkpoint" else None
        if not isinstance(heads, dict) or record["n"] <= old["n"]:
            continue
        if all(s in heads and wanted[s]["seq"] <= heads[s]["seq"] <= trees[s].size for s in wanted):
            streams = {
                s: {
                    "proof": [
                        h.hex()
                        for h in trees[s].consistency_proof(wanted[s]["seq"], heads[s]["seq"])
                    ]
                }
                for s in wanted
                if wanted[s]["seq"] > 0
            }
            between = [line for r, line in records if old["n"] < r["n"] < record["n"]]
            certificates = _certificates(records, record["n"])
            return consistency_document(streams, record_line, certificates, between, old_line)
    raise CliError("no later checkpoint covers every stream of the old record")


def _run(args: argparse.Namespace) -> int:
    if args.check is not None:
        if args.verification_key is None:
            raise CliError("--check needs --verification-key (the public one is enough)")
        try:
            key = read_verification_key(args.verification_key)
            document = orjson.loads(Path(args.check).read_bytes()[: 64 << 20])
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read the proof or the key: {exc}") from None
        try:
            if not isinstance(document, dict):
                raise ProofError("not a JSON object")
            if document.get("format", "").startswith("asgi-audit-consistency"):
                grown = check_consistency(key, document)
                streams = len(grown["streams"])
                print(
                    f"VALID: from ledger record n={grown['from_record']} to "
                    f"n={grown['to_record']}, {streams} stream(s) only grew"
                )
            else:
                found = check_inclusion(key, document)
                event_id = shown(str(found["event"].get("event_id")), 64)
                print(
                    f"VALID: event {event_id} is line {found['seq']} of stream "
                    f"{found['stream']}, committed by ledger record n={found['ledger_record']} "
                    f"({found['timestamp']})"
                )
        except ProofError as exc:
            print(f"INVALID: {exc}")
            return EXIT_ALTERED
        return EXIT_OK
    if args.since is not None and args.event_id is not None:
        args.log_dir, args.event_id = args.event_id, None  # prove --since FILE LOG_DIR
    log_dir = checked_log_dir(args.log_dir)
    if args.since is not None:
        document = _prove_since(log_dir, last_record(args.since, "old record"))
    elif args.event_id is not None:
        document = _prove_event(log_dir, args.event_id)
    else:
        raise CliError("name an EVENT_ID, or --since RECORD_FILE, or --check PROOF_FILE")
    if args.out in (None, "-"):
        dump(document)
    else:
        Path(args.out).write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        print(f"wrote {args.out}", file=sys.stderr)
    return EXIT_OK


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("event_id", nargs="?", default=None, metavar="EVENT_ID")
    add_log_dir(p)
    p.add_argument(
        "--since",
        default=None,
        metavar="RECORD_FILE",
        help="a consistency proof from the checkpoint record in this file (its last line)",
    )
    p.add_argument("--check", default=None, metavar="PROOF_FILE", help="check a proof")
    p.add_argument("--verification-key", default=None, metavar="FILE",
                   help="the verification key --check uses (the public one is enough)")  # fmt: skip
    p.add_argument(
        "--out", default=None, metavar="FILE", help="write the proof here (default: stdout)"
    )


_EPILOG: Final = """\
Exit status: 0 the proof was written, or it holds; 1 it does not hold; 2 an error.

examples:
  asgi-audit prove 019a2c5e-7c1d-7a3b-9f1e-3c2b1a0d9e8f logs/security --out proof.json
  asgi-audit prove --check proof.json --verification-key verification.pub
  asgi-audit prove --since kept-checkpoint.jsonl logs/security --out grew.json
"""

PROVE: Final = Command(
    "prove",
    "prove one event is in the log, or that the log only grew",
    "Write an inclusion proof of one event (or, with --since, a consistency proof\n"
    "from an old checkpoint), or check one with a verification key.",
    _EPILOG,
    _add_arguments,
    _run,
)
