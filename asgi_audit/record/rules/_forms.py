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
    "near",
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
#: From a provider's word to its value, as the rule lists of secret scanners allow: up to
#: four steps of a few name characters then separators, so that the rest of a key
#: (``TWILIO_AUTH_TOKEN=``), a few words (``twilio token - '``), a property
#: (``-Dsonar.login=``) or a URL's host and path (``api.bulbul.com/v1/users?key=``) may
#: stand between them. The two classes share no character: no run splits two ways. The
#: fewest steps are tried first: the value nearest the word is the one masked.
GAP_NAME: Final = "[A-Za-z0-9_.-]{0,30}"
GAP_SEP: Final = "[ \\t:=\"'>,;/?&@(){}\\[\\]\\\\]{1,6}"
GAP: Final = f"(?:{GAP_NAME}{GAP_SEP}){{1,4}}?"


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
    pattern = f"(?i:{KEY_BEFORE}(?:{_either(words)}){KEY_AFTER}){SEP}(?P<secret>{secret})"
    return Rule(name, pattern, words, entropy, True, provider)


def near(
    name: str,
    provider: str,
    words: tuple[str, ...],
    secret: str,
    *,
    entropy: float = 0.0,
) -> Rule:
    """A value of the shape ``secret`` a few words after one of ``words`` (lower-case
    literals, matched without case; they are the keywords), across :data:`GAP`.

    Looser than :func:`keyed`, for names that say who issued the value wherever they
    stand (``twilio``, ``thingsboard``), not for common words. Only the value is masked;
    it must stand alone (``boundary``), so a run longer than the format is not cut.
    """
    pattern = f"(?i:{KEY_BEFORE}(?:{_either(words)})){GAP}(?P<secret>{secret})"
    return Rule(name, pattern, words, entropy, True, provider)


def _either(words: tuple[str, ...]) -> str:
    # The words as literals, one of them.
    return "|".join(word.replace(".", "\\.").replace("+", "\\+") for word in words)
