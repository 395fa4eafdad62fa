"""``asgi-audit redact``: what redaction masks in a text or a file, and what found it.

Each line is redacted as the writer redacts a string of an event (the same
detectors: token rules, secret keys in pairs and flags, shapes), with the user's
own rules added by ``--rules``. ``--explain`` lists each finding instead of
printing the redacted text: where it is, what found it, and a glimpse of what it
found (its length, and its first four characters when it has 16 or more; never the
whole secret).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from ..record.redaction import Redactor
from ..record.scanner import Rule, parse_rules
from ..store.opening import MAX_LINE, open_file
from ..store.reading import iter_lines
from .common import EXIT_OK, CliError, Command

__all__ = ("EXIT_FOUND", "REDACT")

#: The exit status when something was masked (0 when nothing was).
EXIT_FOUND: Final = 1

_EPILOG: Final = """\
examples:
  asgi-audit redact 'curl -u admin:hunter2 https://api.example.com'
  asgi-audit redact --explain --file app.log
  printf 'token=%s\\n' "$TOKEN" | asgi-audit redact --explain
  asgi-audit redact --rules my-rules.json --explain 'ACME-7f3a...'

exit status: 0 nothing masked, 1 something masked, 2 an error.
--rules FILE: a JSON list of {"name", "pattern", "keywords", "entropy"?,
"boundary"?, "provider"?} objects (see the docs' redaction reference)."""


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="the text (default: --file, else standard input)")
    parser.add_argument("--file", type=Path, help="read the lines of this file")
    parser.add_argument(
        "--explain", action="store_true", help="list what was found, where, and by what"
    )
    parser.add_argument("--rules", type=Path, help="a JSON file of rules of your own to add")
    parser.add_argument("--json", action="store_true", help="--explain as JSON lines")


def load_rules(path: Path) -> tuple[Rule, ...]:
    """The rules of a JSON rules file.

    Raises:
        CliError: the file cannot be read, is not JSON, or a rule is wrong.
    """
    try:
        with open_file(path, compressed=False) as fh:
            data = fh.read(MAX_LINE + 1) or b""
    except OSError as exc:
        raise CliError(f"cannot read the rules file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_LINE:
        raise CliError(f"the rules file {path} is over {MAX_LINE} bytes")
    try:
        return parse_rules(json.loads(data))
    except ValueError as exc:  # json.JSONDecodeError is one
        raise CliError(f"{path}: {exc}") from None


def _lines(args: argparse.Namespace) -> Iterable[str]:
    if args.text is not None:
        if args.file is not None:
            raise CliError("give a text or --file, not both")
        yield from args.text.split("\n")
        return
    if args.file is None:
        for line in sys.stdin:
            yield line.rstrip("\n")
        return
    try:
        with open_file(args.file, compressed=args.file.name.endswith(".gz")) as fh:
            for _, raw in iter_lines(fh, partial=True):
                yield raw.decode("utf-8", "replace")
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror or exc}") from None


def glimpse(found: str) -> str:
    """What ``--explain`` shows of a finding: its length, and its first four characters
    when it has 16 or more (a prefix such as ``ghp_`` names a token; of a short
    password, four characters would be most of it)."""
    size = f"({len(found)} chars)"
    return f"{found[:4]}... {size}" if len(found) >= 16 else size


def _run(args: argparse.Namespace) -> int:
    extra = load_rules(args.rules) if args.rules is not None else ()
    redactor = Redactor(extra_rules=extra)
    found = False
    for number, line in enumerate(_lines(args), 1):
        if not args.explain:
            out = redactor.redact_text(line)
            found = found or out != line
            print(out)
            continue
        for start, end, what in redactor.findings(line):
            found = True
            record: dict[str, Any] = {
                "line": number,
                "start": start,
                "end": end,
                "found_by": what,
                "glimpse": glimpse(line[start:end]),
            }
            if args.json:
                print(json.dumps(record, ensure_ascii=False))
            else:
                print(f"{number}:{start}-{end}  {what}  {record['glimpse']}")
    return EXIT_FOUND if found else EXIT_OK


REDACT: Final = Command(
    "redact",
    "show what redaction masks in a text or file, and which rule fired",
    "Redact each line of a text, a file or standard input as the writer would, and print "
    "it; with --explain, list each finding (line, span, what found it) instead.",
    _EPILOG,
    _add_arguments,
    _run,
)
