"""The rule table of the secret scanner (``asgi_audit.record.rules``).

Every rule is in the scanner's pattern subset, named once in kebab case, with
lower-case keywords; the table names at least 150 providers. Every rule masks the
examples of its format (``tests/rule_examples.py``) whole, and only them: the text
around stays, and no rule touches the ordinary values a log holds.
``docs/reference/secret-rules.md`` is the table as :func:`render_page` writes it;
regenerate it with ``python -m tests.test_rules_table > docs/reference/secret-rules.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from asgi_audit.record import rules as rules_package
from asgi_audit.record.rules import RULES
from asgi_audit.record.scanner import Rule, Scanner, check_pattern

from .rule_examples import EXAMPLES, ORDINARY, Example

SCANNER: Final = Scanner(RULES)
INDEX: Final = {rule.name: i for i, rule in enumerate(RULES)}
RULES_DIR: Final = Path(rules_package.__file__).resolve().parent
PAGE: Final = Path(__file__).resolve().parent.parent / "docs" / "reference" / "secret-rules.md"
MAX_MODULE_LINES: Final = 350
KEBAB: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _cases() -> Iterator[tuple[str, Example]]:
    for name, examples in EXAMPLES.items():
        for example in examples:
            yield name, example


CASES: Final = list(_cases())
CASE_IDS: Final = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


# --- the table ---------------------------------------------------------------------------


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_every_pattern_is_in_the_subset(rule: Rule) -> None:
    check_pattern(rule.pattern)


def test_names_are_unique_and_kebab_case() -> None:
    names = [rule.name for rule in RULES]
    assert len(set(names)) == len(names)
    assert [n for n in names if not KEBAB.fullmatch(n)] == []


#: The built-in rules with no keyword, which run on every text (the docs say so).
ON_EVERY_TEXT: Final = frozenset({"azure-devops-legacy-pat-bare"})


def test_every_rule_has_lower_case_ascii_keywords() -> None:
    assert {rule.name for rule in RULES if not rule.keywords} == ON_EVERY_TEXT
    for rule in RULES:
        for word in rule.keywords:
            assert word, rule.name
            assert word.isascii(), (rule.name, word)
            assert word == word.lower(), (rule.name, word)


def test_at_least_150_providers_and_180_rules() -> None:
    providers = {rule.provider for rule in RULES} - {"generic"}
    assert all(rule.provider for rule in RULES)
    assert len(providers) >= 150, len(providers)
    assert len(RULES) >= 180, len(RULES)


def test_the_generic_key_word_rules_come_last() -> None:
    generic = [i for i, rule in enumerate(RULES) if rule.name.startswith("generic-")]
    assert generic == list(range(len(RULES) - len(generic), len(RULES)))


def test_the_family_modules_are_short_and_import_relatively() -> None:
    for path in sorted(RULES_DIR.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= MAX_MODULE_LINES, path.name
        assert "import asgi_audit" not in text, path.name
        assert "from asgi_audit" not in text, path.name


# --- the examples ------------------------------------------------------------------------


def test_every_rule_has_an_example() -> None:
    assert set(EXAMPLES) == set(INDEX)
    assert all(EXAMPLES[name] for name in INDEX)


def _span(text: str, secret: str) -> tuple[int, int]:
    start = text.index(secret)
    return start, start + len(secret)


@pytest.mark.parametrize(("name", "example"), CASES, ids=CASE_IDS)
def test_the_rule_masks_its_example_and_nothing_around_it(name: str, example: Example) -> None:
    text = f"prefix text {example.text} suffix"
    masked = SCANNER.mask(text, "***")
    assert example.secret not in masked
    assert masked.startswith("prefix text ")
    assert masked.endswith(" suffix")
    start, end = _span(text, example.secret)
    own = [h for h in SCANNER.hits(text) if h.rule == INDEX[name]]
    assert any(h.start <= start and end <= h.end for h in own), (name, own)


@pytest.mark.parametrize(("name", "example"), CASES, ids=CASE_IDS)
def test_the_match_holds_one_of_the_rules_keywords(name: str, example: Example) -> None:
    rule = RULES[INDEX[name]]
    regex = re.compile(rule.pattern, re.ASCII)
    group = "secret" if "secret" in regex.groupindex else 0
    text = f"prefix text {example.text} suffix"
    start, _ = _span(text, example.secret)
    matches = [m for m in regex.finditer(text) if m.start(group) <= start < m.end(group)]
    assert matches, name
    matched = matches[0].group(0).lower()
    assert name in ON_EVERY_TEXT or any(word in matched for word in rule.keywords), name


# --- ordinary values ---------------------------------------------------------------------


def test_there_are_at_least_60_ordinary_values() -> None:
    assert len(ORDINARY) >= 60


@pytest.mark.parametrize("value", ORDINARY)
def test_no_rule_touches_an_ordinary_value(value: str) -> None:
    assert SCANNER.hits(value) == []
    assert SCANNER.mask(f"prefix text {value} suffix", "***") == f"prefix text {value} suffix"


# --- the reference page ------------------------------------------------------------------

_INTRO: Final = """\
# Secret rules

The secret scanner (`asgi_audit.record.scanner`) finds secrets in text by a table of
rules, `asgi_audit.record.rules`: {named} rules for the token formats of {providers}
providers, and {generic} generic ones (connection strings, URIs with a password,
command lines, authorization headers, private keys, JSON Web Tokens, values after a key
that names a secret).

A rule is:

- a **name**, in kebab case (`github-pat`);
- a **pattern**, a regular expression in the subset `asgi_audit.record.scanner` defines
  (positive ASCII classes, bounded repetition, no anchors or lookaround); its group
  `secret`, or the whole match, is what is masked, so a key before a value stays;
- **keywords**, lower-case strings one of which every match holds; the scanner runs a
  rule only on a text that holds one of its keywords (ASCII case ignored);
- an **entropy** floor, in bits per character, for the formats whose length and
  alphabet are not enough;
- whether the match must stand alone between non-word characters (most do).

Each rule is written from the format its provider publishes (a token's prefix, its
length and alphabet, a signature it embeds). A format with no signature of its own (a
UUID, 32 or 64 hex characters) is masked only a few characters after a key that names
the provider (`HEROKU_API_KEY=`, `X-Postmark-Server-Token:`). The generic rules on a
value after a key word (`generic-...`) run last.

This page is generated from the table:
`python -m tests.test_rules_table > docs/reference/secret-rules.md`.

| Name | Provider | Keywords |
| --- | --- | --- |
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_page() -> str:
    """The reference page of the rule table, as ``docs/reference/secret-rules.md`` holds it."""
    providers = {rule.provider for rule in RULES} - {"generic"}
    generic = sum(rule.provider == "generic" for rule in RULES)
    rows = [
        f"| `{rule.name}` | {_cell(rule.provider)} | "
        + ", ".join(f"`{_cell(word)}`" for word in rule.keywords)
        + " |"
        for rule in RULES
    ]
    intro = _INTRO.format(named=len(RULES) - generic, providers=len(providers), generic=generic)
    return intro + "\n".join(rows) + "\n"


def test_the_reference_page_is_the_table() -> None:
    assert PAGE.read_text(encoding="utf-8") == render_page(), (
        "docs/reference/secret-rules.md is out of date: regenerate it with "
        "python -m tests.test_rules_table > docs/reference/secret-rules.md"
    )


if __name__ == "__main__":
    print(render_page(), end="")
