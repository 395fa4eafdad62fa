"""The reference secret scanner: candidates by keyword, boundaries, entropy floors,
where a search resumes, merged spans, and the pattern subset it accepts."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_audit.record.scanner import Hit, Rule, Scanner, check_pattern, entropy, merge

GH = Rule("gh", r"ghp_[A-Za-z0-9]{8}", ("ghp_",))
PAIR = Rule("pair", r"(?i)key[ \t]{0,2}=[ \t]{0,2}(?P<secret>[A-Za-z0-9]{6,12})", ("key",), 2.0)


def test_a_rule_runs_only_where_one_of_its_keywords_is_in_any_case() -> None:
    scanner = Scanner([GH, PAIR])
    assert scanner.candidates("nothing") == []
    assert scanner.candidates("GHP_ and KeY") == [0, 1]
    assert scanner.hits("GHP_abcdefgh") == []  # a candidate, but the pattern is case-sensitive
    assert Scanner([Rule("any", r"zz[0-9]{2}", ())]).hits("a zz12 b") == [Hit(2, 6, 0)]


def test_a_match_touching_a_word_character_is_refused_and_the_search_resumes() -> None:
    scanner = Scanner([GH])
    assert scanner.hits("xghp_abcdefgh") == []
    assert scanner.hits("ghp_abcdefghX") == []
    # Refused at 1, the search resumes at 2 and finds nothing; the next stands alone.
    assert scanner.hits("_ghp_abcdefgh ghp_12345678") == [Hit(14, 26, 0)]
    loose = Scanner([Rule("gh", GH.pattern, GH.keywords, boundary=False)])
    assert loose.hits("xghp_abcdefghX") == [Hit(1, 13, 0)]


def test_the_secret_group_is_what_is_masked_and_its_entropy_is_what_counts() -> None:
    scanner = Scanner([PAIR])
    assert scanner.hits("key=aaaaaaaa") == []  # entropy 0 < 2
    assert scanner.hits("KEY = abcd1234") == [Hit(6, 14, 0)]
    assert scanner.mask("x KEY = abcd1234 y", "***") == "x KEY = *** y"


def test_hits_of_several_rules_merge_into_one_mask() -> None:
    scanner = Scanner([GH, Rule("tail", r"abcdefgh[ ]{1}[0-9]{3}", ("abcdefgh",), boundary=False)])
    assert scanner.hits("ghp_abcdefgh 123") == [Hit(0, 12, 0), Hit(4, 16, 1)]
    assert scanner.mask("ghp_abcdefgh 123!", "***") == "***!"


def test_entropy_is_shannons() -> None:
    assert entropy("") == 0.0
    assert entropy("aaaa") == 0.0
    assert entropy("abab") == 1.0
    assert entropy("abcdefgh") == 3.0
    assert math.isclose(entropy("aab"), -(2 / 3) * math.log2(2 / 3) - (1 / 3) * math.log2(1 / 3))


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=20))
def test_merged_spans_are_sorted_disjoint_and_cover_exactly_the_hits(
    pairs: list[tuple[int, int]],
) -> None:
    hits = [Hit(min(a, b), max(a, b), 0) for a, b in pairs]
    spans = merge(hits)
    covered = {i for s, e in spans for i in range(s, e)}
    assert covered == {i for s, e, _ in hits for i in range(s, e)}
    for (_, e1), (s2, _) in itertools.pairwise(spans):
        assert e1 < s2  # neither overlapping nor touching


@pytest.mark.parametrize(
    "pattern",
    [
        r"ghp_[A-Za-z0-9]{36}",
        r"(?i)(?:key|token)[ \t]{0,3}[:=](?P<secret>[A-Za-z0-9+/=._~-]{16,200})",
        r"a\.b[.*+]{2}\+",
        r"(?i)key[ \t]{1,4}[:=]\{[a-z]{2}\}",
        r"x[a\-b\]]{2,3}",
        r"(?i:dop)_v1_[a-f0-9]{64}",
    ],
)
def test_patterns_in_the_subset_are_accepted(pattern: str) -> None:
    check_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"[^a]{3}", "negated class"),
        (r"\w{3}", "an escape other than"),
        (r"\bab", "an escape other than"),
        (r"\xffab", "an escape other than"),
        (r"\u00e9ab", "an escape other than"),
        (r"\<ab\>", "an escape other than"),
        (r"a\1", "an escape other than"),
        (r"a+", "unbounded"),
        (r"ab*", "unbounded"),
        (r"a{3,}", "unbounded"),
        (r"a{1, 3}", "not a bounded repetition"),
        (r"a{x}", "not a bounded repetition"),
        (r"a.b", "'.'"),
        (r"(?=x)ab", "lookaround"),
        (r"(?<!x)ab", "lookaround"),
        (r"(?P<x>a)(?P=x)", "a group other than"),
        (r"a(?P=secret)", "back-reference"),
        (r"^ab", "anchor"),
        (r"ab$", "anchor"),
        (r"(ab)", "a group other than"),
        (r"(?P<token>ab)", "a group other than"),
        (r"(?x)ab", "a group other than"),
        (r"[[:alpha:]]{3}", r"a '\[' inside a class"),
        (r"[a--b]{3}", "'--' inside a class"),
        (r"[a&&b]{3}", "'&&' inside a class"),
        (r"[a~~b]{3}", "'~~' inside a class"),
        (r"[a||b]{3}", "'||' inside a class"),
        (r"[]a]{3}", "first in a class"),
        (r"[ab{3}", "unclosed class"),
        (r"x?", "empty string"),
        ("caf\u00e9", "not ASCII"),
        (r"[a-", "pattern"),
    ],
)
def test_patterns_outside_the_subset_are_refused_by_name(pattern: str, why: str) -> None:
    with pytest.raises(ValueError, match=why.replace("(", r"\(")):
        check_pattern(pattern)


def test_a_keyword_must_be_lower_case_ascii() -> None:
    with pytest.raises(ValueError, match="keyword 'GHP_'"):
        Scanner([Rule("gh", GH.pattern, ("GHP_",))])


keyword = st.text(alphabet="apik_y-e", min_size=1, max_size=4)


@given(
    st.lists(st.lists(keyword, min_size=1, max_size=3), min_size=1, max_size=8),
    st.text(alphabet="APIKapik_y-e \u0130\u212a\u00e9", max_size=40),
)
def test_the_candidates_are_the_rules_one_of_whose_keywords_is_in_the_text(
    tables: list[list[str]], text: str
) -> None:
    rules = [Rule(f"r{i}", "zz[0-9]{2}", tuple(words)) for i, words in enumerate(tables)]
    # The definition: ASCII letters compared without case, nothing else folded
    # (U+0130 and the Kelvin sign U+212A lower to ASCII letters in str.lower).
    folded = "".join(c.lower() if c.isascii() else c for c in text)
    expected = [i for i, words in enumerate(tables) if any(w in folded for w in words)]
    assert Scanner(rules).candidates(text) == expected
