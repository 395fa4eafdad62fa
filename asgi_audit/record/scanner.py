"""The secret scanner: many rules, one pass of keywords, then only the rules that can match.

PURE: no event loop, no file. This is the reference engine; the optional compiled
core (``asgi_audit_native``) implements exactly the same function and is proven
to agree with it on every input. What a rule is, and the subset of regular
expressions a rule may use, is defined here.

**A rule** names a token format (:class:`Rule`): a pattern, the keywords that
every match contains, an optional minimum entropy of the secret, whether the
match must stand alone between non-word characters.

**Scanning** ``text``:

1. *Keywords.* A rule is a candidate when one of its keywords occurs in the text,
   ASCII letters compared without case. A rule with no keyword is always a
   candidate (a few generic rules). This is the Aho-Corasick prefilter of the
   compiled core; here, one ``in`` per distinct keyword.
2. *Matches.* Each candidate rule, in table order, is searched from position 0.
   A match is kept when (a) with ``boundary``, the character before the match
   and the character after it are not ASCII word characters ``[A-Za-z0-9_]``,
   and (b) the *secret* (the group named ``secret``, or the whole match) has a
   Shannon entropy of at least ``entropy`` bits per character. A kept match
   resumes the search at its end; a refused one at its start plus one.
3. *The mask.* The secrets' spans, from every rule, are merged where they overlap
   or touch, and each merged span is replaced by the mask.

**The pattern subset**, on which Python's ``re`` (with ``re.ASCII``) and Rust's
``regex`` crate (bytes, Unicode off) match the same spans: literals and escaped
punctuation; *positive* character classes of ASCII characters only (no ``[^...]``,
no ``.``, no ``\\w \\d \\s \\b``); groups ``(?:...)`` and one ``(?P<secret>...)``;
alternation; ``?`` and *bounded* repetition ``{m}``, ``{m,n}`` (no ``*``, ``+``,
``{m,}``: a search then costs at most the text's length times the longest match);
the flag ``(?i)`` at the start or scoped ``(?i:...)``. No anchors, lookaround or
back-references. :func:`check_pattern` enforces it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from .shapes import apply_mask, entropy, merge_spans

__all__ = (
    "Hit",
    "Rule",
    "Scanner",
    "SecretRule",
    "check_pattern",
    "entropy",
    "merge",
    "parse_rules",
)

_WORD: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One token format.

    Args:
        name: a unique kebab-case name (``github-pat``), what ``redact --explain``
            shows.
        pattern: the regular expression (the module's subset). The group named
            ``secret`` is what is masked; without one, the whole match.
        keywords: lower-case ASCII strings, one of which every match contains
            (ASCII case ignored); empty: the rule runs on every text.
        entropy: the least Shannon entropy, in bits per character, of the secret.
        boundary: the match must not touch an ASCII word character on either side.
        provider: who issues the token, for the docs.
    """

    name: str
    pattern: str
    keywords: tuple[str, ...]
    entropy: float = 0.0
    boundary: bool = True
    provider: str = ""


#: The short name the rule tables use.
Rule = SecretRule


class Hit(NamedTuple):
    """A secret found: its span in the text (``str`` indexes) and the rule's index."""

    start: int
    end: int
    rule: int


def merge(hits: Iterable[Hit]) -> list[tuple[int, int]]:
    """The spans of ``hits`` merged where they overlap or touch, in order."""
    return merge_spans(hits)


class Scanner:
    """The reference scanner over a rule table (see the module).

    Raises:
        ValueError: a rule's pattern is outside the subset, or a keyword is not
            lower-case ASCII.
    """

    __slots__ = ("_always", "_compiled", "_finder", "_implied", "rules")

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        compiled = []
        keywords: dict[str, list[int]] = {}
        for index, rule in enumerate(self.rules):
            check_pattern(rule.pattern)
            for word in rule.keywords:
                if not word or not word.isascii() or word != word.lower():
                    raise ValueError(f"rule {rule.name}: keyword {word!r} is not lower-case ASCII")
                keywords.setdefault(word, []).append(index)
            compiled.append(re.compile(rule.pattern, re.ASCII))
        self._compiled = tuple(compiled)
        self._always = frozenset(i for i, rule in enumerate(self.rules) if not rule.keywords)
        # Every keyword occurrence, overlapping ones too: at each position, the
        # longest keyword that starts there (a trie, so re tries few branches);
        # any shorter keyword found inside it is implied by it.
        words = [w.encode("ascii") for w in keywords]
        self._finder = re.compile(b"(?=(" + _trie(words) + b"))") if words else None
        self._implied = {
            w: frozenset(i for k in words if k in w for i in keywords[k.decode()]) for w in words
        }

    def candidates(self, text: str) -> list[int]:
        """The indexes of the rules that can match ``text``, in table order: those with
        no keyword, and those one of whose keywords occurs in ``text``, ASCII letters
        compared without case."""
        found = set(self._always)
        if self._finder is not None:
            # UTF-8 holds no ASCII byte inside a multi-byte character, and bytes.lower
            # lowers ASCII letters only: an ASCII keyword occurs here exactly where it
            # occurs in the text.
            data = text.encode("utf-8", "surrogatepass").lower()
            implied = self._implied
            for word in set(self._finder.findall(data)):
                found |= implied[word]
        return sorted(found)

    def hits(self, text: str) -> list[Hit]:
        """Every secret in ``text``, sorted by span then rule."""
        hits: list[Hit] = []
        size = len(text)
        for index in self.candidates(text):
            rule, regex = self.rules[index], self._compiled[index]
            group = "secret" if "secret" in regex.groupindex else 0
            pos = 0
            while pos <= size:
                m = regex.search(text, pos)
                if m is None:
                    break
                start, end = m.span()
                s, e = m.span(group)
                if (
                    (
                        not rule.boundary
                        or (
                            (start == 0 or text[start - 1] not in _WORD)
                            and (end == size or text[end] not in _WORD)
                        )
                    )
                    and e > s
                    and (rule.entropy <= 0 or entropy(text[s:e]) >= rule.entropy)
                ):
                    hits.append(Hit(s, e, index))
                    pos = end if end > start else start + 1
                else:
                    pos = start + 1
        hits.sort()
        return hits

    def mask(self, text: str, mask: str) -> str:
        """``text`` with every secret replaced by ``mask`` (spans merged first)."""
        return apply_mask(text, self.hits(text), mask)


_RULE_FIELDS: Final = frozenset({"name", "pattern", "keywords", "entropy", "boundary", "provider"})
_NAME: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def parse_rules(data: object) -> tuple[Rule, ...]:
    """Users' rules from their JSON form: a list of objects with ``name``, ``pattern``,
    ``keywords`` (a list of strings), and optionally ``entropy`` (a number),
    ``boundary`` (true by default) and ``provider``.

    Keywords are lower-cased; every pattern is checked (:func:`check_pattern`).

    Raises:
        ValueError: naming the rule and what is wrong with it.
    """
    if not isinstance(data, list):
        raise ValueError("rules: expected a list of objects")
    rules = []
    for number, item in enumerate(data, 1):
        where = f"rule {number}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected an object")
        unknown = set(item) - _RULE_FIELDS
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        name, pattern, keywords = item.get("name"), item.get("pattern"), item.get("keywords")
        if not isinstance(name, str) or _NAME.fullmatch(name) is None:
            raise ValueError(f"{where}: 'name' must be kebab-case (letters, digits, '-')")
        where = f"rule {name!r}"
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"{where}: 'pattern' must be a non-empty string")
        if not isinstance(keywords, list) or not all(
            isinstance(k, str) and k and k.isascii() for k in keywords
        ):
            raise ValueError(f"{where}: 'keywords' must be a list of non-empty ASCII strings")
        floor = item.get("entropy", 0.0)
        if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor <= 8:
            raise ValueError(f"{where}: 'entropy' must be a number of bits from 0 to 8")
        boundary = item.get("boundary", True)
        if not isinstance(boundary, bool):
            raise ValueError(f"{where}: 'boundary' must be true or false")
        provider = item.get("provider", "")
        if not isinstance(provider, str):
            raise ValueError(f"{where}: 'provider' must be a string")
        try:
            check_pattern(pattern)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        rules.append(
            Rule(
                name,
                pattern,
                tuple(k.lower() for k in keywords),
                float(floor),
                boundary,
                provider,
            )
        )
    names = [r.name for r in rules]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ValueError(f"rule {duplicate!r}: named twice")
    return tuple(rules)


def _trie(words: Sequence[bytes]) -> bytes:
    """A regular expression matching the longest of ``words`` at a position, as a trie."""
    root: dict[int, Any] = {}
    for word in words:
        node = root
        for byte in word:
            node = node.setdefault(byte, {})
        node[-1] = {}

    def build(node: dict[int, Any]) -> bytes:
        branches = [
            re.escape(bytes([b])) + build(node[b]) for b in sorted(k for k in node if k >= 0)
        ]
        if not branches:
            return b""
        end = -1 in node
        body = (
            branches[0] if len(branches) == 1 and not end else b"(?:" + b"|".join(branches) + b")"
        )
        return body + b"?" if end else body

    return build(root)


# Escapes read alike by Python's re and Rust's regex: of punctuation (but "<" and
# ">", word boundaries in Rust), and \t \n \r.
_ESCAPABLE: Final = frozenset("!\"#$%&'()*+,-./:;=?@[\\]^_`{|}~ ") | {"t", "n", "r"}
_BRACE: Final = re.compile(r"\{[0-9]{1,5}(?:,[0-9]{1,5})?\}")
_GROUP_OPENINGS: Final = ("(?:", "(?i:", "(?P<secret>")


def _check_source(pattern: str) -> str | None:
    """What in ``pattern``'s spelling is outside the subset, or None."""
    i, size = 0, len(pattern)
    if pattern.startswith("(?i)"):
        i = 4
    while i < size:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= size or pattern[i + 1] not in _ESCAPABLE:
                return "an escape other than of punctuation, \\t, \\n or \\r"
            i += 2
        elif c == "[":
            problem, i = _check_class(pattern, i)
            if problem:
                return problem
        elif c == "(":
            if not pattern.startswith(_GROUP_OPENINGS, i):
                if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
                    return "a lookaround"
                if pattern.startswith("(?P=", i):
                    return "a back-reference"
                return "a group other than (?:...), (?i:...) or (?P<secret>...)"
            i += 1
        elif c == "{":
            m = _BRACE.match(pattern, i)
            if m is None:
                return (
                    "an unbounded repetition"
                    if re.match(r"\{[0-9]+,\}", pattern[i:])
                    else ("a brace that is not a bounded repetition {m} or {m,n}")
                )
            i = m.end()
        elif c in "*+":
            return "an unbounded repetition"
        elif c == ".":
            return "'.' (use a class)"
        elif c in "^$":
            return "an anchor"
        else:
            i += 1
    return None


def _check_class(pattern: str, i: int) -> tuple[str | None, int]:
    """Check the class that opens at ``i``; return the problem and where it ends."""
    i += 1
    if pattern.startswith("^", i):
        return "a negated class", i
    if pattern.startswith("]", i):
        return "a ']' first in a class (escape it)", i
    previous = ""
    while i < len(pattern):
        c = pattern[i]
        if c == "]":
            return None, i + 1
        if c == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in _ESCAPABLE:
                return "an escape other than of punctuation, \\t, \\n or \\r", i
            previous = ""
            i += 2
            continue
        if c == "[":
            return "a '[' inside a class (escape it)", i
        if c in "&-~|" and previous == c:
            return f"'{c}{c}' inside a class (a set operation in Rust or a later Python)", i
        previous = c
        i += 1
    return "an unclosed class", i


def check_pattern(pattern: str) -> None:
    """Raise ValueError unless ``pattern`` is in the module's subset.

    The check is of the source's spelling (a ``.``, ``*`` or ``+`` outside a
    class, a negated class, ...) and then of what it compiles to: every class
    ASCII, at most one group, named ``secret``.
    """
    if not pattern.isascii():
        raise ValueError(f"pattern {pattern!r}: not ASCII")
    problem = _check_source(pattern)
    if problem is not None:
        raise ValueError(f"pattern {pattern!r}: {problem}")
    try:
        compiled = re.compile(pattern, re.ASCII)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r}: {exc}") from None
    if compiled.groups > 1 or (compiled.groups == 1 and "secret" not in compiled.groupindex):
        raise ValueError(f"pattern {pattern!r}: groups other than (?P<secret>...)")
    if compiled.search("") is not None:
        raise ValueError(f"pattern {pattern!r}: matches the empty string")
