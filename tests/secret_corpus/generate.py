"""How a format makes a fake secret: templates with random parts, from a seeded RNG.

A template is literal text with random parts in double braces, ``{{class:length}}``:
``"dop_v1_{{hex:64}}"``, ``"HEROKU_API_KEY={{uuid}}"``. Every random part of 8 or more
characters is a *needle*: a piece that must never reach a log file; ``{{_class:n}}`` is
random but not secret (a tenant id inside a webhook URL). Literal text (a
prefix such as ``ghp_``, the keyword of a context) is not a needle, so a redactor may
keep it.

Nothing here comes from a secret scanner's code: the classes are the alphabets the
providers document, and every random character comes from a ``random.Random`` seeded by
the caller, so a run is reproducible and no real credential can appear.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

__all__ = (
    "CLASSES",
    "GITHUB_PATTERNS",
    "Format",
    "Sample",
    "gitleaks",
    "random_chars",
    "render",
    "trufflehog",
)

HEX: Final = "0123456789abcdef"
DIGITS: Final = "0123456789"
LOWER: Final = "abcdefghijklmnopqrstuvwxyz"
UPPER: Final = LOWER.upper()
ALNUM: Final = DIGITS + UPPER + LOWER
B64: Final = UPPER + LOWER + DIGITS + "+/"
B64URL: Final = UPPER + LOWER + DIGITS + "-_"
#: RFC 4648 base32, lower case (Azure DevOps personal access tokens).
B32L: Final = "abcdefghijklmnopqrstuvwxyz234567"
#: The bech32 data alphabet (BIP 173), upper case as age prints its secret keys.
BECH32U: Final = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
BASE58: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
#: Passwords as people and generators make them, safe inside a URL's userinfo.
PW_URL: Final = ALNUM + "-._~"
#: Passwords with shell-ish punctuation (never a quote, backslash, % or whitespace).
PW: Final = ALNUM + "!*^-_.@#"

#: Character classes of the template language.
CLASSES: Final[dict[str, str]] = {
    "hex": HEX,
    "HEX": HEX.upper(),
    "digits": DIGITS,
    "lower": LOWER,
    "upper": UPPER,
    "alpha": UPPER + LOWER,
    "alnum": ALNUM,
    "alnumlower": DIGITS + LOWER,
    "alnumupper": DIGITS + UPPER,
    "b64": B64,
    "b64url": B64URL,
    "b32l": B32L,
    "b32u": B32L.upper(),
    "bech32": BECH32U,
    "b58": BASE58,
    "pw": PW,
    "pwurl": PW_URL,
    "word": ALNUM + "_-",
    "azpre": ALNUM + "_~.",
    "azsec": ALNUM + "_~.-",
}

#: The smallest random part that counts as a needle.
MIN_NEEDLE: Final = 8

_PART = re.compile(r"\{\{(\w+)(?::(\d+))?\}\}")


def random_chars(rng: random.Random, alphabet: str, n: int) -> str:
    """``n`` characters drawn from ``alphabet``."""
    return "".join(rng.choice(alphabet) for _ in range(n))


def _special(rng: random.Random, name: str, n: int | None) -> str:
    if name == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if name == "UUID":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
    if name == "b64slash":
        # AWS secret access keys: base64 characters, in practice with "/" and "+".
        chars = list(random_chars(rng, B64, n or 40))
        a, b = rng.sample(range(2, len(chars) - 2), 2)
        chars[a], chars[b] = "/", "+"
        return "".join(chars)
    if name == "op1":
        # A 1Password secret key after its "A3-": groups of 6, 6, 5, 5, 5, 5.
        return "-".join(random_chars(rng, DIGITS + UPPER, k) for k in (6, 6, 5, 5, 5, 5))
    if name == "pwmixed":
        # A generated password: upper, lower, digits and punctuation all present.
        size = n or 18
        chars = [rng.choice(UPPER), rng.choice(LOWER), rng.choice(DIGITS), rng.choice("!*^@#")]
        chars += list(random_chars(rng, PW, size - len(chars)))
        rng.shuffle(chars)
        return "".join(chars)
    raise KeyError(f"unknown template class {name!r}")


def render(template: str, rng: random.Random) -> tuple[str, tuple[str, ...]]:
    """The text of a template and its needles (random parts of 8+ characters)."""
    needles: list[str] = []

    def part(match: re.Match[str]) -> str:
        name, length = match[1], match[2]
        # A leading underscore: random, but not secret (an account id, a tenant id).
        secret = not name.startswith("_")
        name = name.lstrip("_")
        n = int(length) if length else None
        if name in CLASSES:
            assert n is not None, f"{template!r}: {name} needs a length"
            value = random_chars(rng, CLASSES[name], n)
        else:
            value = _special(rng, name, n)
        if secret and len(value) >= MIN_NEEDLE:
            needles.append(value)
        return value

    return _PART.sub(part, template), tuple(needles)


@dataclass(frozen=True, slots=True)
class Sample:
    """One fake secret as planted.

    Attributes:
        text: what is planted: the bare secret, or the secret inside the context its
            format needs (``HEROKU_API_KEY=<uuid>``, a connection string, a command).
        needles: the random parts that must vanish; each at least 8 characters.
    """

    text: str
    needles: tuple[str, ...]

    @property
    def single_line(self) -> bool:
        return "\n" not in self.text

    @property
    def token_like(self) -> bool:
        """No whitespace: fits a path segment or a bare query value."""
        return not any(ch.isspace() for ch in self.text)


@dataclass(frozen=True, slots=True)
class Format:
    """A provider's documented secret format.

    Attributes:
        provider: who issues it (``GitHub``, ``Amazon Web Services``, ``PostgreSQL``).
        name: which of the provider's secrets (``personal access token (classic)``).
        family: a coarse grouping for the reports (``cloud``, ``ai``, ...).
        source: where the format is documented (a URL or a document's name).
        context: whether the secret is only recognisable with a keyword next to it;
            then ``text`` holds that context and the needles are the secret itself.
        template: the template, unless ``maker`` builds the sample.
        maker: builds samples the template language cannot (PEM blocks, JWTs, ...).
    """

    provider: str
    name: str
    family: str
    source: str
    context: bool = False
    template: str | None = None
    maker: Callable[[random.Random], Sample] | None = field(default=None, compare=False)

    def sample(self, rng: random.Random) -> Sample:
        if self.maker is not None:
            sample = self.maker(rng)
        else:
            assert self.template is not None, self
            sample = Sample(*render(self.template, rng))
        assert sample.needles, f"{self.provider} {self.name}: no needle"
        assert all(len(n) >= MIN_NEEDLE for n in sample.needles), self
        assert all(n in sample.text for n in sample.needles), self
        return sample


def gitleaks(rule: str) -> str:
    """The gitleaks default configuration's rule ``rule`` (a public list of formats)."""
    return f"https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml#{rule}"


def trufflehog(detector: str) -> str:
    """trufflehog's detector ``detector`` (a public list of formats)."""
    return f"https://github.com/trufflesecurity/trufflehog/tree/main/pkg/detectors/{detector}"


#: GitHub's list of the secrets its secret scanning and its partners recognise.
GITHUB_PATTERNS: Final = (
    "https://docs.github.com/en/code-security/secret-scanning/introduction/"
    "supported-secret-scanning-patterns"
)
