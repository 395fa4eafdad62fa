"""Redaction on a holdout: example secrets and ordinary values nobody here wrote.

The outside corpus of ``tests/secret_corpus`` is generated from format templates, and the
rules were tuned against it. ``tests/secret_holdout`` is not: its secrets, context lines
and ordinary values were copied from the fixtures and rule examples of other secret
scanners and from real sample logs and documentation, each with its source.

Every secret is planted through one Auditor's public event methods in every placement of
``tests/secret_corpus`` (``record`` makes the events) and one more, a sentence in
``raw_input``; every context line as given, as ``raw_input`` and as a value in
``details``; every ordinary value in the placements that do not name a secret. The files
are read back and judged as ``tests/secret_corpus`` judges (``judge``): a secret leaked if
an 8-character window of one of its needles is in its line as written, JSON-unescaped or
percent-decoded; an ordinary value is masked if it is no longer verbatim in its field; an
event is not whole if its line is missing or carries ``encoding_error``.

    ASGI_AUDIT_PURE=1 .venv/bin/python bench/redaction_holdout.py [--json FILE] [--no-redact]

``--no-redact`` runs the same plan with redaction off, which checks the measure itself:
every secret must then leak and no ordinary value be masked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.secret_corpus.measure import Outcome, Plant, Report, plant_all
from tests.secret_corpus.placements import PLACEMENTS, Placement, by_name
from tests.secret_holdout.cases import CONTEXT_LINES, MIN_NEEDLE, ORDINARY, SECRETS

#: The corpus's sentence, but in ``raw_input`` (the corpus puts its sentence in
#: ``blocked_reason``).
SENTENCE_IN_RAW_INPUT: Final = Placement(
    "sentence_in_raw_input", "raw_input", by_name("sentence").plant
)
#: Where every holdout secret is planted.
SECRET_PLACEMENTS: Final[tuple[Placement, ...]] = (*PLACEMENTS, SENTENCE_IN_RAW_INPUT)
#: Where every context line is planted, as given.
CONTEXT_PLACEMENTS: Final[tuple[tuple[str, Placement], ...]] = (
    ("context_line_raw_input", by_name("free_text")),
    ("context_line_dict_value", by_name("dict_value")),
)


def plan() -> tuple[list[Plant], dict[int, tuple[str, str]]]:
    """Every plant, and by case number the value it was made from and that value's source."""
    plants: list[Plant] = []
    origins: dict[int, tuple[str, str]] = {}

    def add(kind: str, family: str, provider: str, name: str, p: Placement, placement: str,
            value: str, needles: tuple[str, ...], source: str) -> None:  # fmt: skip
        origins[len(plants)] = (value, source)
        planted = p.plant(value)
        plants.append(
            Plant(len(plants), kind, family, provider, name, placement, p.slot, planted, needles)
        )

    for s in SECRETS:
        for p in SECRET_PLACEMENTS:
            if p.accepts(s.text):
                add("secret", "bare", s.provider, s.format, p, p.name, s.text, s.needles,
                    s.source)  # fmt: skip
    for c in CONTEXT_LINES:
        for name, p in CONTEXT_PLACEMENTS:
            add("secret", "context", c.provider, "context line", p, name, c.line, c.needles,
                c.source)  # fmt: skip
    for o in ORDINARY:
        for p in SECRET_PLACEMENTS:
            if p.ordinary and p.accepts(o.value):
                add("ordinary", o.kind, "ordinary", o.kind, p, p.name, o.value, (),
                    o.source)  # fmt: skip
    return plants, origins


def check_cases() -> None:
    """The holdout's own invariants: every needle long enough and inside its value."""
    for value, needles, who in (
        *((s.text, s.needles, f"{s.provider}: {s.format}") for s in SECRETS),
        *((c.line, c.needles, f"{c.provider}: context line") for c in CONTEXT_LINES),
    ):
        for n in needles:
            if len(n) < MIN_NEEDLE or n not in value:
                raise ValueError(f"{who}: needle {n!r} is short or not in its value")


def measure(log_dir: Path, *, redact: bool = True) -> tuple[Report, dict[int, tuple[str, str]]]:
    """Plant the whole holdout into a new Auditor writing to ``log_dir``, then judge it."""
    check_cases()
    plants, origins = plan()
    return asyncio.run(plant_all(log_dir, plants, redact=redact)), origins


def _table(outcomes: Iterable[Outcome], key: str) -> list[tuple[str, int, int]]:
    planted: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for o in outcomes:
        k = getattr(o.plant, key)
        planted[k] += 1
        missed[k] += o.leaked or o.masked or not o.whole
    return sorted(((k, missed[k], n) for k, n in planted.items()), key=lambda r: (-r[1], r[0]))


def summarize(report: Report, origins: dict[int, tuple[str, str]]) -> dict[str, Any]:
    """Every count and every miss, as plain data."""
    leaks: dict[tuple[str, str, str, str], list[Outcome]] = defaultdict(list)
    for o in report.leaks:
        p = o.plant
        value, source = origins[p.case]
        leaks[(p.provider, p.name, source, value)].append(o)
    masked: dict[tuple[str, str, str], list[Outcome]] = defaultdict(list)
    for o in report.masked:
        value, source = origins[o.plant.case]
        masked[(o.plant.family, source, value)].append(o)
    return {
        "holdout": {
            "secrets": len(SECRETS),
            "context_lines": len(CONTEXT_LINES),
            "ordinary_values": len(ORDINARY),
            "providers": len({s.provider for s in SECRETS} | {c.provider for c in CONTEXT_LINES}),
            "sources": len({source for _, source in origins.values()}),
        },
        "totals": {
            "secrets_planted": len(report.secrets),
            "secrets_leaked": len(report.leaks),
            "ordinary_planted": len(report.ordinary),
            "ordinary_masked": len(report.masked),
            "events_not_whole": len(report.broken),
        },
        "secrets_by_placement": _table(report.secrets, "placement"),
        "secrets_by_provider_leaking": [
            row for row in _table(report.secrets, "provider") if row[1]
        ],
        "ordinary_by_placement": _table(report.ordinary, "placement"),
        "ordinary_by_kind_masked": [row for row in _table(report.ordinary, "family") if row[1]],
        "leaked_secrets": [
            {
                "provider": provider,
                "format": fmt,
                "source": source,
                "value": value,
                "needles": list(outs[0].plant.needles),
                "placements": [o.plant.placement for o in outs],
                "fragments": sorted({o.fragment or "" for o in outs}),
            }
            for (provider, fmt, source, value), outs in sorted(leaks.items())
        ],
        "masked_ordinary": [
            {
                "kind": kind,
                "source": source,
                "value": value,
                "placements": [o.plant.placement for o in outs],
            }
            for (kind, source, value), outs in sorted(masked.items())
        ],
        "not_whole": [
            {
                "kind": o.plant.kind,
                "provider": o.plant.provider,
                "name": o.plant.name,
                "placement": o.plant.placement,
                "source": origins[o.plant.case][1],
            }
            for o in report.broken
        ],
    }


def _short(text: str, n: int = 150) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= n else text[: n - 3] + "..."


def print_summary(data: dict[str, Any]) -> None:
    h, t = data["holdout"], data["totals"]
    print(
        f"holdout: {h['secrets']} secrets, {h['context_lines']} context lines, "
        f"{h['ordinary_values']} ordinary values; {h['providers']} providers, "
        f"{h['sources']} sources"
    )
    print(f"secrets planted:          {t['secrets_planted']}")
    print(f"secrets leaked:           {t['secrets_leaked']}")
    print(f"ordinary values planted:  {t['ordinary_planted']}")
    print(f"ordinary values masked:   {t['ordinary_masked']}")
    print(f"events not whole:         {t['events_not_whole']}")
    for title, rows in (
        ("leaked / planted, per placement", data["secrets_by_placement"]),
        ("leaked / planted, per provider (leaking ones)", data["secrets_by_provider_leaking"]),
        ("masked / planted, per placement", data["ordinary_by_placement"]),
        ("masked / planted, per ordinary kind (masked ones)", data["ordinary_by_kind_masked"]),
    ):
        print(f"\n{title}")
        width = max((len(r[0]) for r in rows), default=10)
        for name, missed, planted in rows:
            print(f"  {name:<{width}}  {missed:>4} / {planted}")
    print(f"\nleaked secrets ({len(data['leaked_secrets'])} distinct values)")
    for leak in data["leaked_secrets"]:
        print(f"  {leak['provider']} | {leak['format']} | {leak['source']}")
        print(f"      value {_short(leak['value'])!r}")
        print(f"      in {len(leak['placements'])}: {', '.join(leak['placements'])}")
    print(f"\nmasked ordinary values ({len(data['masked_ordinary'])} distinct values)")
    for m in data["masked_ordinary"]:
        print(f"  {m['kind']} | {m['source']}")
        print(f"      value {_short(m['value'])!r}")
        print(f"      in {len(m['placements'])}: {', '.join(m['placements'])}")
    if data["not_whole"]:
        print(f"\nevents not whole ({len(data['not_whole'])})")
        for b in data["not_whole"]:
            print(f"  [{b['placement']}] {b['kind']} {b['provider']}: {b['name']} ({b['source']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    parser.add_argument(
        "--no-redact", action="store_true", help="redaction off: checks the measure itself"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="redaction-holdout-") as tmp:
        report, origins = measure(Path(tmp) / "logs", redact=not args.no_redact)
    data = summarize(report, origins)
    data["redact"] = not args.no_redact
    print_summary(data)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(
        f"\n({time.perf_counter() - started:.1f} s, redaction {'off' if args.no_redact else 'on'})"
    )


if __name__ == "__main__":
    main()
