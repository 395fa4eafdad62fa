"""The secret scanner on four engines, side by side, over the full rule table.

Why the compiled core (Rust: Aho-Corasick keywords, then the ``regex`` crate) and not
an off-the-shelf multi-pattern engine? This script builds, for the whole ``RULES``
table, one scanner per engine with the semantics of ``asgi_audit/record/scanner.py``
as far as each engine allows, times them in the same process, and counts the texts
where an engine's masked output differs from the reference's:

1. **reference**: :class:`asgi_audit.record.scanner.Scanner` (Python ``re``);
2. **native**: :func:`asgi_audit.record.engine.new_scanner` with ``asgi_audit_native``;
3. **RE2** (``google-re2``): an unanchored ``re2.Set`` of the patterns says which
   rules match at all; each such rule whose keyword occurs is then searched with its
   own ``re2`` regex, the boundary, entropy and resume rules checked in Python. RE2
   refuses a repetition above 1000: those rules are kept out of the Set, rewritten
   (``X{64,16384}`` as ``X{64}X{0,1000}...``, the same language and the same greedy
   preference) and searched alone when a keyword occurs. Texts are scanned as UTF-8
   bytes with the Latin-1 option, so that ``(?i)`` folds ASCII letters only (RE2's
   UTF-8 mode also folds ``s`` with ``ſ`` and ``k`` with the Kelvin sign);
4. **Hyperscan** (``hyperscan``, which bundles Vectorscan): one block-mode database
   of every pattern it compiles, ``HS_FLAG_SOM_LEFTMOST`` where it can. It has no
   capture groups: a reported start is re-matched with Python ``re`` (anchored there)
   for the exact span and the ``secret`` group. Patterns too large with start of
   match are compiled without it (the first reported end bounds where the Python
   search may start: exact); patterns too large either way run on Python ``re`` alone.

Timed: the build, then the median microseconds per ``mask`` call (``perf_counter``,
rounds interleaved across engines) on the 300-character prompt-injection text of
``bench/pipeline_cost.py``, a 120-character user agent, a 2 KB log excerpt with three
planted secrets of ``tests/rule_examples.py`` and 100 KB adversarial inputs. Then
agreement with the reference on every text of ``EXAMPLES``, ``ORDINARY``, the
outside corpus (``tests/secret_corpus``) and 2,000 seeded mixes of the examples (with
the mean cost of a call over each group), and what two threads gain over one (whether
the engine lets go of the GIL). An engine whose package is not installed is skipped
and said so. Prints markdown:

    python bench/scanner_engines.py [--rounds N] [--quick] > bench/results/scanner_engines.md

The alternatives are not the project's dependencies: install them in a separate
virtual environment (``pip install google-re2 hyperscan``) with this package.
"""

from __future__ import annotations

import argparse
import bisect
import datetime
import importlib
import importlib.metadata
import os
import platform
import random
import re
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final, Protocol

ROOT: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _report import markdown_table  # noqa: E402
from pipeline_cost import RAW_INPUT  # noqa: E402

from asgi_audit.record import engine  # noqa: E402
from asgi_audit.record.rules import RULES  # noqa: E402
from asgi_audit.record.scanner import Hit, Rule, Scanner, entropy  # noqa: E402
from asgi_audit.record.shapes import apply_mask  # noqa: E402
from tests.rule_examples import EXAMPLES, ORDINARY  # noqa: E402
from tests.secret_corpus.measure import plan  # noqa: E402

try:
    import re2  # type: ignore[import-not-found]
except ImportError:
    re2 = None
try:
    import hyperscan  # type: ignore[import-not-found]
except ImportError:
    hyperscan = None

MASK: Final = "[REDACTED]"
WORD_BYTES: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
USER_AGENT: Final = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0"
)[:120]
RE2_MAX_REPEAT: Final = 1000
# The Set's budget: at 64 MB its lazy DFA runs out of memory on every short text of
# EXAMPLES and is rebuilt (about 13 ms a call, never warm); at 512 MB it warms.
RE2_MAX_MEM: Final = 512 << 20
# A class (or one escaped or plain character) under a bounded repetition {m,n}.
_COUNTED: Final = re.compile(r"(\[(?:\\.|[^\]\\])*\]|\\.|[^\\\[\]()|?{}])\{(\d+),(\d+)\}")


class Engine(Protocol):
    def hits(self, text: str) -> list[Hit]: ...

    def mask(self, text: str, mask: str) -> str: ...


# ---------------------------------------------------------------------------------------
# What the alternatives share: the search loop of the reference, on UTF-8 bytes.

Search = Callable[[bytes, int], "tuple[int, int, int, int] | None"]


def scan_rule(
    search: Search, data: bytes, pos: int, rule: Rule, index: int, out: list[Hit]
) -> None:
    """The reference's loop for one rule from ``pos``: ``search(data, pos)`` gives the
    next match's span and its secret's span (byte offsets) or None."""
    size = len(data)
    while pos <= size:
        found = search(data, pos)
        if found is None:
            return
        start, end, s, e = found
        if (
            (
                not rule.boundary
                or (
                    (start == 0 or data[start - 1] not in WORD_BYTES)
                    and (end == size or data[end] not in WORD_BYTES)
                )
            )
            and e > s
            # The secret is ASCII: every class and literal of the subset is.
            and (rule.entropy <= 0 or entropy(data[s:e].decode("ascii")) >= rule.entropy)
        ):
            out.append(Hit(s, e, index))
            pos = end if end > start else start + 1
        else:
            pos = start + 1


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def to_chars(text: str, data: bytes, hits: list[Hit]) -> list[Hit]:
    """``hits`` in byte offsets of ``data`` as ``str`` offsets of ``text``, sorted."""
    if len(data) != len(text):
        offsets = [0] * (len(data) + 1)
        at = 0
        for i, ch in enumerate(text):
            offsets[at] = i
            at += len(encode(ch))
        offsets[len(data)] = len(text)
        hits = [Hit(offsets[s], offsets[e], r) for s, e, r in hits]
    hits.sort()
    return hits


def keyword_present(rule: Rule, lowered: bytes) -> bool:
    """The reference's candidate test (ASCII letters without case)."""
    return not rule.keywords or any(k.encode("ascii") in lowered for k in rule.keywords)


def python_search(regex: re.Pattern[bytes]) -> Search:
    group = 1 if regex.groups else 0

    def search(data: bytes, pos: int) -> tuple[int, int, int, int] | None:
        m = regex.search(data, pos)
        return None if m is None else (m.start(), m.end(), *m.span(group))

    return search


# ---------------------------------------------------------------------------------------
# RE2


def split_repeats(pattern: str, limit: int = RE2_MAX_REPEAT) -> str:
    """``pattern`` with every ``X{m,n}`` above ``limit`` written ``X{m}X{0,limit}...``:
    the same language, and greedy chunks prefer the longer total first, as ``X{m,n}``."""

    def sub(m: re.Match[str]) -> str:
        atom, low, high = m.group(1), int(m.group(2)), int(m.group(3))
        if high <= limit:
            return m.group(0)
        assert low <= limit, pattern
        parts = [f"{atom}{{{low}}}"] if low else []
        rest = high - low
        while rest > 0:
            parts.append(f"{atom}{{0,{min(rest, limit)}}}")
            rest -= min(rest, limit)
        return "".join(parts)

    return _COUNTED.sub(sub, pattern)


class RE2Scanner:
    """``re2.Set`` to find the rules that match at all, then ``re2`` per rule.

    A rule with a repetition above RE2's limit cannot be in the Set. ``long_rules``
    says what searches it (whenever one of its keywords occurs): ``"python"``, Python
    ``re``; ``"rewrite"``, ``re2`` on the pattern rewritten by :func:`split_repeats`.
    """

    def __init__(self, rules: Sequence[Rule], long_rules: str = "python") -> None:
        self.rules = tuple(rules)
        self.long_rules = long_rules
        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1
        options.log_errors = False
        options.max_mem = RE2_MAX_MEM
        self._set = re2.Set.SearchSet(options)
        self._in_set: list[int] = []  # Set index -> rule index
        self.outside: list[int] = []  # rules RE2 refuses as written
        self._regex: list[Search] = []
        for index, rule in enumerate(self.rules):
            pattern = split_repeats(rule.pattern)
            if pattern == rule.pattern:
                self._set.Add(pattern.encode("ascii"))
                self._in_set.append(index)
            else:
                self.outside.append(index)
                if long_rules == "python":
                    self._regex.append(python_search(re.compile(rule.pattern.encode("ascii"))))
                    continue
            self._regex.append(self._search(re2.compile(pattern.encode("ascii"), options)))
        self._set.Compile()

    @staticmethod
    def _search(regex: Any) -> Search:
        group = 1 if regex.groups else 0

        def search(data: bytes, pos: int) -> tuple[int, int, int, int] | None:
            m = regex.search(data, pos)
            return None if m is None else (*m.span(), *m.span(group))

        return search

    def hits(self, text: str) -> list[Hit]:
        data = encode(text)
        lowered = data.lower()
        matched = self._set.Match(data) or ()
        candidates = sorted({self._in_set[i] for i in matched} | set(self.outside))
        out: list[Hit] = []
        for index in candidates:
            rule = self.rules[index]
            if keyword_present(rule, lowered):
                scan_rule(self._regex[index], data, 0, rule, index, out)
        return to_chars(text, data, out)

    def mask(self, text: str, mask: str) -> str:
        return apply_mask(text, self.hits(text), mask)


# ---------------------------------------------------------------------------------------
# Hyperscan


def longest(pattern: str) -> int:
    """The longest match of ``pattern`` (every repetition of the subset is bounded)."""
    parser: Any = getattr(re, "_parser", None) or __import__("sre_parse")
    return int(parser.parse(pattern).getwidth()[1])


class HyperscanScanner:
    """One Hyperscan database; Python ``re`` re-matches each reported start."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._python = [re.compile(r.pattern.encode("ascii")) for r in self.rules]
        self.som: list[int] = []  # reported with their leftmost start
        self.end_only: list[int] = []  # too large with a start: reported by their end
        self.python_only: list[int] = []  # too large for Hyperscan either way
        self._width = [0] * len(self.rules)
        expressions, ids, flags = [], [], []
        for index, rule in enumerate(self.rules):
            pattern, flag = rule.pattern, 0
            if pattern.startswith("(?i)"):
                pattern, flag = pattern[4:], hyperscan.HS_FLAG_CASELESS
            for extra, kind in ((hyperscan.HS_FLAG_SOM_LEFTMOST, self.som), (0, self.end_only)):
                try:
                    hyperscan.Database().compile(
                        expressions=[pattern.encode("ascii")], ids=[index], flags=[flag | extra]
                    )
                except hyperscan.error:
                    continue
                kind.append(index)
                expressions.append(pattern.encode("ascii"))
                ids.append(index)
                flags.append(flag | extra)
                break
            else:
                self.python_only.append(index)
            self._width[index] = longest(rule.pattern)
        start = time.perf_counter()
        self._db = hyperscan.Database()
        self._db.compile(expressions=expressions, ids=ids, flags=flags)
        #: The one compile of the whole database (the rest of the build tries each
        #: pattern alone, to learn which take a start of match).
        self.database_seconds = time.perf_counter() - start
        self._som = frozenset(self.som)
        self._local = threading.local()

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._db)
        return scratch

    def hits(self, text: str) -> list[Hit]:
        data = encode(text)
        lowered = data.lower()
        starts: dict[int, set[int]] = {}
        first_end: dict[int, int] = {}
        som = self._som

        def on_match(index: int, start: int, end: int, _flags: int, _context: object) -> None:
            if index in som:
                starts.setdefault(index, set()).add(start)
            elif index not in first_end or end < first_end[index]:
                first_end[index] = end

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch())
        out: list[Hit] = []
        for index in sorted(set(starts) | set(first_end) | set(self.python_only)):
            rule = self.rules[index]
            if not keyword_present(rule, lowered):
                continue
            regex = self._python[index]
            if index in starts:
                scan_rule(self._at_starts(regex, sorted(starts[index])), data, 0, rule, index, out)
            else:
                # No match ends before the first reported end: none starts before
                # that end less the longest match.
                pos = max(0, first_end[index] - self._width[index]) if index in first_end else 0
                scan_rule(python_search(regex), data, pos, rule, index, out)
        return to_chars(text, data, out)

    @staticmethod
    def _at_starts(regex: re.Pattern[bytes], starts: list[int]) -> Search:
        """The next match at a start Hyperscan reported, matched there by Python ``re``."""
        group = 1 if regex.groups else 0

        def search(data: bytes, pos: int) -> tuple[int, int, int, int] | None:
            for i in range(bisect.bisect_left(starts, pos), len(starts)):
                m = regex.match(data, starts[i])
                if m is not None:
                    return (m.start(), m.end(), *m.span(group))
            return None

        return search

    def mask(self, text: str, mask: str) -> str:
        return apply_mask(text, self.hits(text), mask)


# ---------------------------------------------------------------------------------------
# The inputs


def log_excerpt() -> tuple[str, list[str]]:
    """2,048 characters of a service log with three planted secrets of EXAMPLES."""
    planted = [
        EXAMPLES["github-pat"][0],
        EXAMPLES["aws-access-key-id"][0],
        EXAMPLES["generic-password"][0],
    ]
    lines = []
    for i in range(60):
        stamp = f"2026-03-02T10:{15 + i // 60:02d}:{i % 60:02d}.{(i * 137) % 1000:03d}Z"
        if i == 3:
            body = f"INFO  deploy[77] cloning with token {planted[0].text} from origin"
        elif i == 9:
            body = (
                f"WARN  s3sync[4021] fallback credentials key_id={planted[1].text} region=eu-west-1"
            )
        elif i == 16:
            body = f"DEBUG app[812] env loaded: {planted[2].text} DB_HOST=db.internal"
        else:
            body = (
                f"INFO  worker[812] batch {40 + i} done in {(i * 7919) % 2000} ms, "
                f"{(i * 31) % 97} items, queue depth {(i * 13) % 50}"
            )
        lines.append(f"{stamp} {body}")
    text = "\n".join(lines)[:2048]
    assert all(p.text in text for p in planted)
    return text, [p.secret for p in planted]


MIXES: Final = 2_000
_JUNK: Final = ("a", "A1", "_", "-", "=", " ", "key=", "password=", "token: ", "xxxxx", "9", ":",
                 '"', "é", "ſ")  # fmt: skip


def mixes(n: int, seed: int = 7) -> list[str]:
    """``n`` texts of one to four EXAMPLES or ORDINARY texts, whole or cut and
    re-joined, with a little junk between them (seeded): keyword-dense texts where a
    refused match is often followed by another a few characters on."""
    rng = random.Random(seed)
    pool = [ex.text for examples in EXAMPLES.values() for ex in examples] + list(ORDINARY)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 4)):
            piece = rng.choice(pool)
            if rng.random() < 0.5:
                a = rng.randrange(len(piece))
                b = rng.randrange(a, len(piece) + 1)
                piece = piece[a:b] + piece[: rng.randrange(len(piece) + 1)]
            parts.append(piece)
            parts.append("".join(rng.choice(_JUNK) for _ in range(rng.randint(0, 3))))
        out.append("".join(parts))
    return out


def adversarial(unit: str, kb: int = 100) -> str:
    return (unit * (kb * 1024 // len(unit) + 1))[: kb * 1024]


# ---------------------------------------------------------------------------------------
# Timing


def median_us(fn: Callable[[], object], calls: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def calibrate(fn: Callable[[], object], target_s: float) -> int:
    """How many calls take about ``target_s``."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, min(100_000, int(target_s / once)))


def side_by_side(
    engines: dict[str, Engine], text: str, rounds: int, target_s: float
) -> dict[str, float]:
    """Median µs per ``mask`` call of each engine, rounds interleaved across engines."""
    fns = {name: partial(e.mask, text, MASK) for name, e in engines.items()}
    calls = {name: calibrate(fn, target_s) for name, fn in fns.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(median_us(fn, calls[name], 1))
    return {name: statistics.median(s) for name, s in samples.items()}


def two_passes(e: Engine, texts: Sequence[str]) -> tuple[list[list[Hit]], list[float]]:
    """``e``'s hits for every text, and the mean µs per call of a first and a second pass."""
    times = []
    found: list[list[Hit]] = []
    for _ in range(2):
        start = time.perf_counter()
        found = [e.hits(t) for t in texts]
        times.append((time.perf_counter() - start) / len(texts) * 1e6)
    return found, times


def thread_gain(fn: Callable[[], object], calls: int, repeats: int = 3) -> float:
    """Throughput of two threads over one thread doing the same total of calls
    (2.0: the engine scans without the GIL on two cores; 1.0 or less: it holds it);
    the median of ``repeats`` measures."""
    fn()
    return statistics.median(_thread_gain(fn, calls) for _ in range(repeats))


def _thread_gain(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(2 * calls):
        fn()
    serial = time.perf_counter() - start

    def work() -> None:
        for _ in range(calls):
            fn()

    threads = [threading.Thread(target=work) for _ in range(2)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return serial / (time.perf_counter() - start)


class Others:
    """How many cores other processes kept busy since ``start`` (Linux ``/proc/stat``
    against this process's own CPU time): the noise under the figures."""

    def __init__(self) -> None:
        self.start()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except OSError:
            return time.perf_counter(), 0.0, 0.0
        busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
        own = os.times()
        return time.perf_counter(), busy, own.user + own.system

    def start(self) -> None:
        self._from = self._sample()

    def cores(self) -> float:
        now = self._sample()
        wall = now[0] - self._from[0]
        return max(0.0, (now[1] - self._from[1]) - (now[2] - self._from[2])) / wall


def fmt_us(us: float) -> str:
    if us >= 10_000:
        return f"{us / 1000:,.1f} ms"
    if us >= 100:
        return f"{us:,.0f}"
    return f"{us:.1f}" if us >= 10 else f"{us:.2f}"


def hyperscan_library() -> str:
    """The bundled library's version line, as its database reports it."""
    db = hyperscan.Database()
    db.compile(expressions=[b"x"])
    return str(db.info().decode().split(" Features")[0])


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="5 rounds, shorter samples")
    parser.add_argument(
        "--re2-long",
        choices=("python", "rewrite"),
        default="python",
        help="what searches the rules RE2 refuses (a repetition above 1000): Python re, "
        "or re2 on the pattern rewritten in chunks of 1000",
    )
    args = parser.parse_args()
    rounds = 5 if args.quick else args.rounds
    target_s = 0.005 if args.quick else 0.02

    whole_run = Others()
    print("# The scanner on four engines\n")
    print(
        f"{datetime.date.today().isoformat()}; {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, {platform.system()}; "
        f"{len(RULES)} rules (`asgi_audit.record.rules.RULES`).\n"
    )
    print(
        "Packages: "
        + ", ".join(
            f"{d} {version(d)}"
            for d in ("asgi-audit", "asgi-audit-native", "google-re2", "hyperscan")
        )
        + (f"; hyperscan bundles Vectorscan, `{hyperscan_library()}`" if hyperscan else "")
        + ".\n"
    )
    command = "python bench/scanner_engines.py" + (
        f" --re2-long {args.re2_long}" if args.re2_long != "python" else ""
    )
    print(f"`{command}` (each timing: the median of interleaved rounds).\n")

    # Build.
    builds: dict[str, float] = {}
    engines: dict[str, Engine] = {}
    notes: list[str] = []

    def build(name: str, make: Callable[[], Engine]) -> Engine:
        start = time.perf_counter()
        made = make()
        builds[name] = time.perf_counter() - start
        engines[name] = made
        return made

    reference = build("reference (Python re)", lambda: Scanner(RULES))
    if engine.native_available():
        native = build("native (Rust core)", lambda: engine.new_scanner(RULES))
        assert isinstance(native, engine.NativeScanner)
        notes.append(
            "**native**: its build is `new_scanner`, which builds (and checks the table with) "
            "the reference first, then the compiled core."
        )
    else:
        notes.append("**native**: skipped, `asgi_audit_native` is not installed.")
    if re2 is not None:
        r2 = build("RE2 (Set + per-rule)", lambda: RE2Scanner(RULES, args.re2_long))
        assert isinstance(r2, RE2Scanner)
        outside = ", ".join(RULES[i].name for i in r2.outside)
        searched = (
            "Python `re`"
            if args.re2_long == "python"
            else f"`re2` on the pattern rewritten in chunks of at most {RE2_MAX_REPEAT} "
            "(`X{64,16384}` as `X{64}X{0,1000}...`)"
        )
        notes.append(
            f"**RE2**: {len(r2._in_set)} rules in the `re2.Set` (`max_mem` "
            f"{RE2_MAX_MEM >> 20} MB); {len(r2.outside)} have a repetition above RE2's "
            f"limit of {RE2_MAX_REPEAT} and are searched, whenever one of their keywords "
            f"occurs, with {searched}: {outside}. In the Set, rewritten, their counters "
            "blow up its DFA. The Python binding's `Set.Match` returns the indices only: "
            "a DFA out of memory would look like no match."
        )
        folds = re2.compile("(?i:password)").search("paſſword") is not None
        notes.append(
            "**RE2, UTF-8 mode** (not used here): `re2.search('(?i:password)', 'paſſword')` "
            f"{'matches' if folds else 'does not match'}; Python `re.ASCII` and the Rust "
            "core do not. Hence Latin-1 over UTF-8 bytes, and byte offsets mapped back."
        )
    else:
        notes.append("**RE2**: skipped, `google-re2` is not installed.")
    if hyperscan is not None:
        hs = build("Hyperscan (Vectorscan)", lambda: HyperscanScanner(RULES))
        assert isinstance(hs, HyperscanScanner)
        notes.append(
            f"**Hyperscan**: {len(hs.som)} rules compile with `HS_FLAG_SOM_LEFTMOST`; "
            f"{len(hs.end_only)} are 'too large' with it and are compiled reporting their "
            f"ends only; {len(hs.python_only)} are too large either way and run on Python "
            f"`re` alone ({', '.join(RULES[i].name for i in hs.python_only)}). The build "
            "tries each pattern alone first (with a start of match, then without); the "
            f"compile of the whole database alone takes {hs.database_seconds * 1000:,.0f} ms. "
            "Hyperscan "
            "reports, for each match end, the leftmost start: a start whose every match "
            "ends where an earlier start's does is never reported, so after a refused "
            "match the reference's 'resume at start + 1' may find a match Hyperscan hides."
        )
    else:
        notes.append("**Hyperscan**: skipped, `hyperscan` is not installed.")

    # First call on the prompt, after the build (lazy DFAs are built then).
    first: dict[str, float] = {}
    for name, e in engines.items():
        start = time.perf_counter()
        e.mask(RAW_INPUT, MASK)
        first[name] = (time.perf_counter() - start) * 1e6

    print("## Build\n")
    print(
        markdown_table(
            ["engine", "build ms", "first call µs (prompt)"],
            [[n, f"{builds[n] * 1000:,.1f}", fmt_us(first[n])] for n in engines],
        )
    )
    print()

    # Timings.
    log, log_secrets = log_excerpt()
    inputs = [
        ("prompt injection, 300 chars (`RAW_INPUT`)", RAW_INPUT, 1.0),
        ("user agent, 120 chars", USER_AGENT, 1.0),
        ("log excerpt, 2 KB, 3 secrets", log, 1.0),
        ("`a` × 100 KB", adversarial("a"), 4.0),
        ("`ghp_` × 100 KB", adversarial("ghp_"), 4.0),
        ("`key=` × 100 KB", adversarial("key="), 4.0),
    ]
    masked_log = reference.mask(log, MASK)
    assert not any(s in masked_log for s in log_secrets), "the reference misses a planted secret"
    names = list(engines)
    rows = []
    for label, text, scale in inputs:
        expected = reference.mask(text, MASK)
        cells = []
        times = side_by_side(engines, text, rounds, target_s * scale)
        for name in names:
            same = engines[name].mask(text, MASK) == expected
            cells.append(fmt_us(times[name]) + ("" if same else " (differs)"))
        rows.append([label, *cells])
        print(f"timed: {label}", file=sys.stderr)
    print("## µs per `mask` call\n")
    print(markdown_table(["input", *names], rows))
    print()

    # Agreement.
    groups = {
        f"EXAMPLES ({sum(len(v) for v in EXAMPLES.values())} texts)": [
            ex.text for examples in EXAMPLES.values() for ex in examples
        ],
        f"ORDINARY ({len(ORDINARY)} texts)": list(ORDINARY),
    }
    plants = [p.planted for p in plan()]
    groups[f"outside corpus plants ({len(plants)} texts)"] = plants
    mixed = mixes(MIXES)
    groups[f"seeded mixes of EXAMPLES ({len(mixed)} texts)"] = mixed
    others = [n for n in names if engines[n] is not reference]
    mask_rows, hit_rows, cost_rows = [], [], []
    examples: dict[str, list[str]] = {n: [] for n in others}
    for group, texts in groups.items():
        expected_hits, ref_times = two_passes(reference, texts)
        passes = [ref_times]
        expected_masks = [apply_mask(t, h, MASK) for t, h in zip(texts, expected_hits, strict=True)]
        mask_cells, hit_cells = [], []
        for name in others:
            e = engines[name]
            found, e_times = two_passes(e, texts)
            passes.append(e_times)
            differ = hits_differ = 0
            for text, got, want_mask, want_hits in zip(
                texts, found, expected_masks, expected_hits, strict=True
            ):
                hits_differ += got != want_hits
                # The alternatives' mask is apply_mask() over their hits; the native core's
                # is its own.
                masked = (
                    e.mask(text, MASK) if name.startswith("native") else apply_mask(text, got, MASK)
                )
                if masked != want_mask:
                    differ += 1
                    if len(examples[name]) < 5:
                        rules = sorted({RULES[h.rule].name for h in set(got) ^ set(want_hits)})
                        examples[name].append(f"{', '.join(rules)}: {text[:90]!r}")
            mask_cells.append(str(differ))
            hit_cells.append(str(hits_differ))
        mask_rows.append([group, *mask_cells])
        hit_rows.append([group, *hit_cells])
        pass_cells = [f"{fmt_us(a)} / {fmt_us(b)}" for a, b in passes]
        label = f"{group}, mean {statistics.mean(map(len, texts)):,.0f} chars"
        cost_rows.append([label, *pass_cells])
        print(f"checked: {group}", file=sys.stderr)
    print("## Agreement with the reference\n")
    print("Texts whose masked output differs from the reference's:\n")
    print(markdown_table(["texts", *others], mask_rows))
    print()
    print("Texts whose hits (span and rule) differ from the reference's (stricter):\n")
    print(markdown_table(["texts", *others], hit_rows))
    print()
    print(
        "Mean µs per `hits` call over each group, first pass / second pass (groups in "
        "the order above; a lazy DFA builds its states during the first calls that need "
        "them):\n"
    )
    print(markdown_table(["texts", *names], cost_rows))
    print()
    for name, lines in examples.items():
        if lines:
            print(f"First masks that differ, {name} (rules whose hits differ: text):\n")
            for line in lines:
                print(f"- {line}")
            print()

    # Threads.
    threads_run = Others()
    print("## Two threads against one\n")
    print(
        "Throughput of two threads over one thread making the same calls: about 2 where "
        "the scan runs without the GIL (2 cores), 1 or less where it holds it.\n"
    )
    a100 = adversarial("a")
    gain_rows = []
    for name, e in engines.items():
        on_log: Callable[[], object] = partial(e.mask, log, MASK)
        on_a: Callable[[], object] = partial(e.mask, a100, MASK)
        small = thread_gain(on_log, calibrate(on_log, 0.2))
        big = thread_gain(on_a, calibrate(on_a, 0.4))
        gain_rows.append([f"{name}: `mask`", f"{small:.2f}", f"{big:.2f}"])
    print(markdown_table(["engine", "2 KB log", "`a` × 100 KB"], gain_rows))
    print()
    # The libraries' own calls, on a text long enough that a call outlasts a GIL handoff:
    # about 44 MB, where a pattern's keyword occurs everywhere and it never matches.
    long_b = b"abcdefgh12 " * 4_000_000
    patterns = (b"[a-z]{5}[0-9]{3}X", b"ghp_[A-Za-z0-9]{36}")
    raw_rows = []
    if re2 is not None:
        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1
        single = re2.compile(patterns[0], options)
        many = re2.Set.SearchSet(options)
        for pattern in patterns:
            many.Add(pattern)
        many.Compile()
        raw_rows.append(
            ["RE2: one regex, `search`", f"{thread_gain(lambda: single.search(long_b), 4, 5):.2f}"]
        )
        raw_rows.append(
            ["RE2: `Set.Match`", f"{thread_gain(lambda: many.Match(long_b), 4, 5):.2f}"]
        )
    if hyperscan is not None:
        db = hyperscan.Database()
        db.compile(expressions=list(patterns), ids=[0, 1], flags=[0, 0])
        local = threading.local()

        def hs_scan(data: bytes) -> None:
            if not hasattr(local, "scratch"):
                local.scratch = hyperscan.Scratch(db)
            db.scan(data, match_event_handler=None, scratch=local.scratch)

        raw_rows.append(
            ["Hyperscan: `Database.scan`", f"{thread_gain(lambda: hs_scan(long_b), 4, 5):.2f}"]
        )
    if engine.native_available():
        core = importlib.import_module("asgi_audit_native").Scanner(
            [(p.decode(), [k], 0.0, True) for p, k in zip(patterns, ("abc", "ghp_"), strict=True)]
        )
        long_s = long_b.decode()
        raw_rows.append(
            [
                "native core: `Scanner.mask` (str in, str out)",
                f"{thread_gain(lambda: core.mask(long_s, MASK), 4, 5):.2f}",
            ]
        )
    if raw_rows:
        print(
            f"The libraries' own calls alone, on {len(long_b) / 1e6:.0f} MB "
            "(`abcdefgh12 ` repeated), two patterns that never match:\n"
        )
        print(markdown_table(["call", "two threads / one"], raw_rows))
        print()

    thread_noise = threads_run.cores()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    notes.append(f"The process's peak resident memory at the end: {peak:,.0f} MB.")
    notes.append(
        f"Other processes kept {whole_run.cores():.2f} of the {os.cpu_count()} cores busy on "
        f"average during the run, and {thread_noise:.2f} during the thread measures (on a "
        "shared machine the thread figures suffer first)."
    )
    print("## Notes\n")
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
