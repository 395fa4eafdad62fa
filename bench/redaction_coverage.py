"""Redaction coverage against the outside corpus of ``tests/secret_corpus``.

Plants every fake secret of every published format (tokens, keyword-bound keys, key
blocks, connection strings, command lines) in every placement, and every ordinary value
in the placements that do not name a secret, through one Auditor's public event methods
into a temporary directory; reads the files back and prints the counts: secrets planted
and leaked (an 8-character fragment of a random part reached the file, as written,
JSON-unescaped or percent-decoded), per placement and per provider; ordinary values
planted and masked, per kind and per placement; events not whole. A few seconds.

    .venv/bin/python bench/redaction_coverage.py [--seed N] [--per-format K] [--examples M]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.secret_corpus.formats import FORMATS, PROVIDERS, SEED
from tests.secret_corpus.measure import Outcome, Report, measure
from tests.secret_corpus.placements import PLACEMENTS


def _by(outcomes: list[Outcome], key: str) -> Counter[str]:
    return Counter(getattr(o.plant, key) for o in outcomes)


def _rows(title: str, planted: Counter[str], missed: Counter[str], *, only_missed: bool) -> None:
    print(f"\n{title}")
    width = max(map(len, planted), default=10)
    for name, n in sorted(planted.items(), key=lambda kv: (-missed[kv[0]], kv[0])):
        if only_missed and not missed[name]:
            continue
        print(f"  {name:<{width}}  {missed[name]:>5} / {n:<5}")


def report_text(report: Report, examples: int) -> None:
    print(f"formats {len(FORMATS)} from {len(PROVIDERS)} providers, placements {len(PLACEMENTS)}")
    print(f"secrets planted:          {len(report.secrets)}")
    print(f"secrets leaked:           {len(report.leaks)}")
    print(f"ordinary values planted:  {len(report.ordinary)}")
    print(f"ordinary values masked:   {len(report.masked)}")
    print(f"events not whole:         {len(report.broken)}")
    secrets, leaks = report.secrets, report.leaks
    _rows("leaked / planted, per placement", _by(secrets, "placement"), _by(leaks, "placement"),
          only_missed=False)  # fmt: skip
    _rows("leaked / planted, per family", _by(secrets, "family"), _by(leaks, "family"),
          only_missed=False)  # fmt: skip
    _rows("leaked / planted, per provider (leaking ones)", _by(secrets, "provider"),
          _by(leaks, "provider"), only_missed=True)  # fmt: skip
    ordinary, masked = report.ordinary, report.masked
    _rows("masked / planted, per placement", _by(ordinary, "placement"), _by(masked, "placement"),
          only_missed=False)  # fmt: skip
    _rows("masked / planted, per ordinary kind (masked ones)", _by(ordinary, "family"),
          _by(masked, "family"), only_missed=True)  # fmt: skip
    if examples:
        print()
        print("\n".join(report.examples(examples)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--per-format", type=int, default=1, help="samples of each format")
    parser.add_argument("--examples", type=int, default=0, help="examples of each miss to print")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="redaction-coverage-") as tmp:
        report = measure(Path(tmp) / "logs", seed=args.seed, per_format=args.per_format)
    report_text(report, args.examples)
    print(f"\n({time.perf_counter() - started:.1f} s, seed {args.seed})")


if __name__ == "__main__":
    main()
