"""The shapes the rule table is written with: a token with a prefix, a value after a key.

PURE. Every pattern stays inside :func:`asgi_audit.record.scanner.check_pattern`'s
subset: positive ASCII classes, bounded repetition, ``(?:...)``, one ``(?P<secret>...)``.
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule

__all__ = (
    "ALNUM",
    "B64",
    "B64URL",
    "HEX",
    "KEY_AFTER",
    "KEY_BEFORE",
    "SEP",
    "UUID",
    "keyed",
    "token",
)

HEX: Final = "[0-9a-fA-F]"
ALNUM: Final = "[A-Za-z0-9]"
B64: Final = "[A-Za-z0-9+/]"
B64URL: Final = "[A-Za-z0-9_-]"
UUID: Final = f"{HEX}{{8}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{12}}"

#: The rest of a key's name around a provider's word (``MY_HEROKU_API_KEY``).
KEY_BEFORE: Final = "(?:[A-Za-z0-9_.-]{0,40}[_.-])?"
KEY_AFTER: Final = "[A-Za-z0-9_.-]{0,30}"
#: Between a key and its value: ``=``, ``: ``, ``": "``, ``=>``, a space or a tab, and the
#: backslashes of JSON written inside a JSON string (``\\": \\"``).
SEP: Final = "[ \\t:=\"'>\\\\]{1,8}"


def token(
    name: str,
    provider: str,
    pattern: str,
    *keywords: str,
    entropy: float = 0.0,
    boundary: bool = True,
) -> Rule:
    """A rule whose pattern is written out; ``keywords`` are literals every match holds."""
    return Rule(name, pattern, keywords, entropy, boundary, provider)


def keyed(
    name: str,
    provider: str,
    words: tuple[str, ...],
    secret: str,
    *,
    entropy: float = 0.0,
) -> Rule:
    """A value of the shape ``secret`` a few separators after a key that names one of
    ``words`` (lower-case literals, matched without case; they are the keywords).

    Only the value is masked. The key may carry up to 40 characters of name before the
    word, ending in ``_``, ``.`` or ``-`` (so that ``oci`` is not read in ``social``), and
    30 after it (``HEROKU_API_KEY``, ``x-postmark-server-token``).
    """
    alternation = "|".join(word.replace(".", "\\.").replace("+", "\\+") for word in words)
    pattern = f"(?i:{KEY_BEFORE}(?:{alternation}){KEY_AFTER}){SEP}(?P<secret>{secret})"
    return Rule(name, pattern, words, entropy, True, provider)
