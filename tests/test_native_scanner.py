"""The compiled scanner core (``asgi_audit_native``) against the reference engine.

Skipped where the core is not installed (``make native`` builds and installs it).
The property: for random rule tables whose patterns are in the subset, and random
texts (ASCII with planted matches and keywords, and characters outside ASCII that
Python lowers, folds or counts differently), the core's hits and masked text are
the reference's.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from asgi_audit.record import engine
from asgi_audit.record.scanner import Hit, Rule, Scanner, check_pattern

native: Any = pytest.importorskip("asgi_audit_native")

# --- Patterns in the subset, each with strings it matches -------------------------------


@dataclass(frozen=True)
class Node:
    """A piece of a pattern: its source, a few strings it matches, its literal runs."""

    source: str
    samples: tuple[str, ...]
    literals: tuple[str, ...]
    atom: bool  # can take a quantifier as it is


LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
# Punctuation a literal may be; the specials are written escaped.
PUNCT = "_-=:/.@+*?()[]{}|#&~ !%,;'\"<>\\^$"
SPECIAL_OUTSIDE = set(".^$*+?{}[]\\|()-&~# ")
SPECIAL_INSIDE = set("\\]^-[&~|")
LITERAL_CHARS = LETTERS + DIGITS + PUNCT


def escape(c: str, *, inside: bool = False) -> str:
    return "\\" + c if c in (SPECIAL_INSIDE if inside else SPECIAL_OUTSIDE) else c


def swapped_case(draw: st.DrawFn, text: str) -> str:
    return "".join(c.swapcase() if c.isascii() and draw(st.booleans()) else c for c in text)


@st.composite
def literal_nodes(draw: st.DrawFn) -> Node:
    text = draw(
        st.text(
            # k and i more often: the Kelvin sign and İ lower to them in str.lower(),
            # which neither engine uses for keywords.
            st.sampled_from(LETTERS + DIGITS) | st.sampled_from("kiKI") | st.sampled_from(PUNCT),
            min_size=1,
            max_size=5,
        )
    )
    return Node("".join(escape(c) for c in text), (text,), (text,), len(text) == 1)


CLASS_RANGES = ("a-z", "A-Z", "0-9", "a-f", "A-F", "0-5", "k-s", "Z-a", "!-/", ":-@")


@st.composite
def class_nodes(draw: st.DrawFn) -> Node:
    items = draw(
        st.lists(
            st.sampled_from(CLASS_RANGES)
            | st.sampled_from(LITERAL_CHARS).map(lambda c: escape(c, inside=True))
            | st.sampled_from(("\\d", "\\w", "\\s")),
            min_size=1,
            max_size=4,
        )
    )
    source = "[" + "".join(items) + "]"
    members = [chr(i) for i in range(128) if re.fullmatch(source, chr(i), re.ASCII)]
    samples = tuple(draw(st.lists(st.sampled_from(members), min_size=1, max_size=3)))
    return Node(source, samples, (), True)


@st.composite
def sequence_nodes(draw: st.DrawFn, inner: st.SearchStrategy[Node]) -> Node:
    parts = draw(st.lists(inner, min_size=2, max_size=4))
    samples = tuple("".join(draw(st.sampled_from(p.samples)) for p in parts) for _ in range(3))
    literals = tuple(lit for p in parts for lit in p.literals)
    return Node("".join(p.source for p in parts), samples, literals, False)


@st.composite
def alternation_nodes(draw: st.DrawFn, inner: st.SearchStrategy[Node]) -> Node:
    parts = draw(st.lists(inner, min_size=2, max_size=3))
    samples = tuple(s for p in parts for s in p.samples)
    literals = tuple(lit for p in parts for lit in p.literals)
    return Node("(?:" + "|".join(p.source for p in parts) + ")", samples, literals, True)


@st.composite
def repeat_nodes(draw: st.DrawFn, inner: st.SearchStrategy[Node]) -> Node:
    node = draw(inner)
    source = node.source if node.atom else f"(?:{node.source})"
    low = draw(st.integers(0, 3))
    kind = draw(st.sampled_from(("?", "{m}", "{m,n}")))
    if kind == "?":
        low, high, op = 0, 1, "?"
    elif kind == "{m}":
        low = max(low, 1)
        high, op = low, f"{{{low}}}"
    else:
        high = low + draw(st.integers(0, 4))
        op = f"{{{low},{high}}}"
    lazy = "?" if draw(st.integers(0, 4)) == 0 else ""
    samples = tuple(
        "".join(draw(st.sampled_from(node.samples)) for _ in range(draw(st.integers(low, high))))
        for _ in range(3)
    )
    return Node(source + op + lazy, samples, node.literals if low else (), False)


@st.composite
def ignorecase_nodes(draw: st.DrawFn, inner: st.SearchStrategy[Node]) -> Node:
    node = draw(inner)
    samples = tuple(swapped_case(draw, s) for s in node.samples)
    return Node(f"(?i:{node.source})", node.samples + samples, node.literals, True)


def nodes() -> st.SearchStrategy[Node]:
    return st.recursive(
        literal_nodes() | class_nodes(),
        lambda inner: (
            sequence_nodes(inner)
            | alternation_nodes(inner)
            | repeat_nodes(inner)
            | ignorecase_nodes(inner)
        ),
        max_leaves=8,
    )


@dataclass(frozen=True)
class Planted:
    """A rule and the strings to plant in texts for it."""

    rule: Rule
    samples: tuple[str, ...]


@st.composite
def rules(draw: st.DrawFn) -> Planted:
    body = draw(nodes())
    if draw(st.integers(0, 3)) == 0:
        # The keywords in one branch only: the rule runs when the keyword occurs
        # anywhere, and then matches the other branch too (where the prefilter shows).
        word = draw(literal_nodes())
        body = Node(
            f"(?:{word.source}|{body.source})", word.samples + body.samples, word.literals, True
        )
    source, samples = body.source, body.samples
    if draw(st.booleans()):
        # A secret group around the body, with context around it.
        before, after = draw(literal_nodes()), draw(st.none() | literal_nodes())
        optional = "?" if draw(st.integers(0, 5)) == 0 else ""
        source = f"{before.source}(?P<secret>{body.source}){optional}" + (
            after.source if after else ""
        )
        samples = tuple(
            before.samples[0] + s + (after.samples[0] if after else "") for s in body.samples
        )
        literals = before.literals + body.literals + (after.literals if after else ())
    else:
        literals = body.literals
    ignorecase = draw(st.integers(0, 3)) == 0
    if ignorecase:
        source = "(?i)" + source
        samples += tuple(swapped_case(draw, s) for s in samples)
    try:
        check_pattern(source)
    except ValueError:
        assume(False)
    keywords: tuple[str, ...] = ()
    with_keywords = draw(st.integers(0, 4)) > 0
    if literals and with_keywords:
        picked = []
        for _ in range(draw(st.integers(1, 2))):
            text = draw(st.sampled_from(literals)).lower()
            start = draw(st.integers(0, len(text) - 1))
            stop = draw(st.integers(start + 1, len(text)))
            picked.append(text[start:stop])
        keywords = tuple(dict.fromkeys(picked))
    entropy = draw(
        st.sampled_from((0.0, 0.0, 0.0, 1.0, 1.5, 2.0)) | st.floats(0.0, 4.5, allow_nan=False)
    )
    rule = Rule(
        name=f"r{len(source)}",
        pattern=source,
        keywords=keywords,
        entropy=entropy,
        boundary=draw(st.booleans()),
    )
    return Planted(rule, samples)


# --- Texts --------------------------------------------------------------------------------

#: Characters outside ASCII: str.lower() lowers İ to "i" + U+0307 and the Kelvin sign to
#: "k" (the keyword search folds ASCII letters only, so it must not see them), ſ and
#: U+212B fold under Unicode case rules (not under re.ASCII), astral characters take four
#: UTF-8 bytes, combining marks change nothing.
ODD = (
    "\u0130",  # İ
    "\u212a",  # KELVIN SIGN
    "\u212b",  # ANGSTROM SIGN
    "\u017f",  # ſ
    "\u0131",  # dotless i
    "é",
    "ß",
    "Σ",
    "\u0301",  # combining acute
    "\u0307",  # combining dot above
    "\u00a0",
    "\u2028",
    "\ufb00",  # ﬀ
    "😀",
    "\U00010400",  # DESERET CAPITAL LETTER LONG I (astral, with a lower case)
    "\x00",
)
ASCII = "".join(chr(i) for i in range(1, 128))


def keyword_disguises(draw: st.DrawFn, keyword: str) -> str:
    """``keyword`` in mixed case, maybe with a k as the Kelvin sign or a last i as İ."""
    text = swapped_case(draw, keyword)
    if "k" in keyword.lower() and draw(st.booleans()):
        at = keyword.lower().index("k")
        text = text[:at] + "\u212a" + text[at + 1 :]
    if keyword.lower().endswith("i") and draw(st.booleans()):
        text = text[:-1] + "\u0130"
    return text


@st.composite
def texts(draw: st.DrawFn, planted: list[Planted]) -> str:
    pieces = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.integers(0, 6))
        if kind == 0:
            pieces.append(draw(st.text(st.sampled_from(ASCII), max_size=8)))
        elif kind == 1:
            pieces.append(draw(st.text(st.sampled_from(ODD) | st.sampled_from(ASCII), max_size=4)))
        elif kind in (2, 3, 4) and planted:
            pieces.append(draw(st.sampled_from(draw(st.sampled_from(planted)).samples)))
        elif kind == 5 and planted:
            words = draw(st.sampled_from(planted)).rule.keywords
            if words:
                pieces.append(keyword_disguises(draw, draw(st.sampled_from(words))))
        else:
            pieces.append(draw(st.sampled_from((" ", "_", "=", "a", "0", "\n", "é", "-"))))
    return "".join(pieces)


def scanners(table: list[Rule]) -> tuple[Scanner, Any]:
    reference = Scanner(table)
    compiled = native.Scanner([(r.pattern, list(r.keywords), r.entropy, r.boundary) for r in table])
    return reference, compiled


def native_hits(compiled: Any, text: str) -> list[Hit]:
    return [Hit(*hit) for hit in compiled.hits(text)]


# --- The properties -----------------------------------------------------------------------

# A rule table is drawn rule by rule and a pattern outside the subset is thrown
# away (assume), so some seeds filter many draws: that is the strategy's cost, not a
# fault of the code under test, and the health check must not fail the run for it.
_CHECKS = [HealthCheck.too_slow, HealthCheck.filter_too_much]
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=_CHECKS)
#: The wrapper adds only the fallback and the Hit tuples: fewer tables prove it.
WRAPPER = settings(max_examples=60, deadline=None, suppress_health_check=_CHECKS)


@PROPERTY
@given(st.lists(rules(), min_size=1, max_size=5), st.data())
def test_hits_and_mask_are_the_references(planted: list[Planted], data: st.DataObject) -> None:
    reference, compiled = scanners([p.rule for p in planted])
    for _ in range(4):
        text = data.draw(texts(planted))
        mask = data.draw(st.sampled_from(("[REDACTED]", "", "*", "é😀")))
        assert native_hits(compiled, text) == reference.hits(text), text
        assert compiled.mask(text, mask) == reference.mask(text, mask), text


def _wrapped(table: list[Rule]) -> engine.NativeScanner:
    # The engine's wrapper of the core; with ASGI_AUDIT_PURE set it gives the reference.
    if os.environ.get(engine.PURE_VARIABLE):
        pytest.skip("ASGI_AUDIT_PURE is set: new_scanner gives the reference")
    wrapped = engine.new_scanner(table)
    assert isinstance(wrapped, engine.NativeScanner)
    return wrapped


@WRAPPER
@given(st.lists(rules(), min_size=1, max_size=4), st.data())
def test_the_engine_wrapper_is_the_reference(planted: list[Planted], data: st.DataObject) -> None:
    table = [p.rule for p in planted]
    wrapped = _wrapped(table)
    reference = Scanner(table)
    text = data.draw(texts(planted))
    assert wrapped.hits(text) == reference.hits(text)
    assert wrapped.mask(text, "#") == reference.mask(text, "#")


def test_hits_on_a_text_with_every_odd_character() -> None:
    table = [
        Rule("kelvin", "(?:key|tok)=[a-z0-9]{3,8}", ("key",), 0.0, True),
        Rule("dotted", "(?:api|tok)_[A-Za-z0-9]{4}", ("api",), 1.0, False),
        Rule("dotted-x", "(?:apix|tok)_[A-Za-z0-9]{4}", ("apix",), 1.0, False),
        Rule("any", "(?i)ghp_(?P<secret>[a-z0-9]{6})", ("ghp_",), 2.0, True),
    ]
    reference, compiled = scanners(table)
    for odd in ODD:
        for text in (
            f"{odd}ey tok=abc123 {odd}",
            f"\u212aEY tok=abc{odd}",
            f"AP\u0130 tok_Ab12{odd}GHP_abcdef",
            f"AP\u0130x tok_Ab12 {odd * 3} ghp_a1b2c3",
            f"{odd}ghp_a1b2c3{odd}tok=zz9",
        ):
            assert native_hits(compiled, text) == reference.hits(text), text
            assert compiled.mask(text, "*") == reference.mask(text, "*"), text


def test_no_character_outside_ascii_makes_a_keyword() -> None:
    """Keywords are ASCII letters compared without case, nothing else folded: the
    characters whose str.lower() holds an ASCII letter (İ, the Kelvin sign) make no
    keyword in either engine."""
    folding = {
        chr(c)
        for c in range(0x80, sys.maxunicode + 1)
        if not 0xD800 <= c < 0xE000 and any(ord(x) < 0x80 for x in chr(c).lower())
    }
    assert folding  # İ and the Kelvin sign, in this Python's Unicode data
    reference, compiled = scanners([Rule("r", "(?:ki|zz)[0-9]{2}", ("ki",), 0.0, False)])
    for char in folding:
        for text in (f"{char}i zz12", f"k{char} zz12", f"{char}{char} zz12"):
            assert native_hits(compiled, text) == reference.hits(text) == [], text
    assert native_hits(compiled, "KI zz12") == reference.hits("KI zz12") != []


# --- What the core refuses ----------------------------------------------------------------


SURROGATES = ("\ud800", "abc\udfff", "ghp_\ud83d")


@pytest.mark.parametrize("text", SURROGATES)
def test_a_lone_surrogate_is_a_unicode_encode_error(text: str) -> None:
    _, compiled = scanners([Rule("r", "ghp_[a-z]{2}", ("ghp_",), 0.0, False)])
    with pytest.raises(UnicodeEncodeError):
        compiled.hits(text)
    with pytest.raises(UnicodeEncodeError):
        compiled.mask(text, "*")
    with pytest.raises(UnicodeEncodeError):
        compiled.mask("ghp_ab", text)


@pytest.mark.parametrize("text", SURROGATES)
def test_the_wrapper_falls_back_to_the_reference_for_a_lone_surrogate(text: str) -> None:
    table = [Rule("r", "ghp_[a-z]{2}", ("ghp_",), 0.0, False)]
    wrapped = _wrapped(table)
    reference = Scanner(table)
    for probe in (text, f"x ghp_ab {text} ghp_cd"):
        assert wrapped.hits(probe) == reference.hits(probe)
        assert wrapped.mask(probe, "*") == reference.mask(probe, "*")
    assert wrapped.mask("ghp_ab", text) == reference.mask("ghp_ab", text) == text


@pytest.mark.parametrize(
    "pattern",
    ["a+", "a*", "a{2,}", ".", "^a", "[^a]", "(a)", "(?P<x>a)", "a?", "\\ba", "é"],
)
def test_patterns_the_reference_refuses_the_core_refuses(pattern: str) -> None:
    with pytest.raises(ValueError, match="pattern"):
        check_pattern(pattern)
    with pytest.raises(ValueError, match="pattern"):
        native.Scanner([(pattern, [], 0.0, True)])


@pytest.mark.parametrize(
    "pattern",
    [
        "key\\xff",  # an escape outside ASCII: U+00FF to Python, the byte FF to Rust
        "k{1, 3}",  # a literal to Python, a repetition to Rust
        "\\<tok\\>",  # literal angle brackets to Python, word boundaries to Rust
        "[[:alpha:]]{2}",  # a class then "]" to Python, a POSIX class to Rust
        "[a-c--b]x",  # "-" is a member for Python, a class difference for Rust
        "(?x)[a b]c",  # verbose mode keeps a space in a class in Python, not in Rust
    ],
)
def test_patterns_the_engines_read_differently_are_refused_by_both(pattern: str) -> None:
    with pytest.raises(ValueError, match="pattern"):
        check_pattern(pattern)
    with pytest.raises(ValueError, match="pattern"):
        native.Scanner([(pattern, [], 0.0, False)])
    with pytest.raises(ValueError, match="pattern"):
        engine.new_scanner([Rule("r", pattern, (), 0.0, False)])


def test_keywords_the_reference_refuses_the_core_refuses() -> None:
    for word in ("", "Key", "kéy"):
        with pytest.raises(ValueError, match="keyword"):
            Scanner([Rule("r", "abc", (word,))])
        with pytest.raises(ValueError, match="keyword"):
            native.Scanner([("abc", [word], 0.0, True)])


def test_module_metadata() -> None:
    assert native.ENGINE == engine.ENGINE == 2
    assert isinstance(native.__version__, str)
    assert len(native.Scanner([("abc", [], 0.0, True)])) == 1


# --- Threads ------------------------------------------------------------------------------


def test_one_scanner_from_several_threads_at_once() -> None:
    table = [
        Rule("gh", "ghp_[A-Za-z0-9]{36}", ("ghp_",), 3.0, True),
        Rule("kv", "(?i)(?:key|token)=(?P<secret>[A-Za-z0-9]{6,20})", ("key", "token"), 2.0, True),
    ]
    wrapped = engine.new_scanner(table)
    assert isinstance(wrapped, engine.NativeScanner)
    reference = Scanner(table)
    token = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
    inputs = [
        f"{'é' * i} key=abc{i}def{i} x {token if i % 2 else ''} Token=Zz{i}9yY8x" * (1 + i % 50)
        for i in range(64)
    ]
    expected = [(reference.hits(t), reference.mask(t, "*")) for t in inputs]
    results: dict[int, list[tuple[list[Hit], str]]] = {}
    barrier = threading.Barrier(8)

    def work(worker: int) -> None:
        barrier.wait()
        results[worker] = [(wrapped.hits(t), wrapped.mask(t, "*")) for t in inputs * 5]

    run_threads(work, 8)
    assert sorted(results) == list(range(8))
    for got in results.values():
        assert got == expected * 5


def run_threads(work: Callable[[int], None], count: int) -> None:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
