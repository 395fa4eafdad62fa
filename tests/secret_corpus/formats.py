"""The corpus of secret formats: every provider's format, as data.

``FORMATS`` joins the three kinds (:mod:`.tokens`: self-identifying tokens;
:mod:`.keyed`: secrets that need their keyword; :mod:`.credentials`: key blocks, signed
tokens, card numbers; :mod:`.passwords`: passwords in connection strings, URLs,
configuration and command lines). ``samples()``
draws fake secrets from them with a seeded RNG: the same seed, the same corpus.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from .credentials import CREDENTIALS
from .generate import Format, Sample
from .keyed import KEYED
from .passwords import PASSWORDS
from .tokens import TOKENS

__all__ = ("FORMATS", "PROVIDERS", "SEED", "Secret", "samples")

#: The default seed of a run.
SEED: Final = 20260501

FORMATS: Final[tuple[Format, ...]] = (*TOKENS, *KEYED, *CREDENTIALS, *PASSWORDS)

#: Every provider named by a format.
PROVIDERS: Final[frozenset[str]] = frozenset(f.provider for f in FORMATS)


@dataclass(frozen=True, slots=True)
class Secret:
    """A fake secret drawn from a format."""

    format: Format
    sample: Sample
    index: int

    @property
    def label(self) -> str:
        return f"{self.format.provider}: {self.format.name} #{self.index}"


def samples(seed: int = SEED, per_format: int = 1) -> Iterator[Secret]:
    """``per_format`` fake secrets of every format, reproducible from ``seed``.

    Each format has its own RNG (seeded by the run's seed, the format and the sample's
    index), so adding a format never changes another's secrets.
    """
    for fmt in FORMATS:
        for index in range(per_format):
            rng = random.Random(f"{seed}:{fmt.provider}:{fmt.name}:{index}")
            yield Secret(fmt, fmt.sample(rng), index)
