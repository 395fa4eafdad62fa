"""The compiled core of asgi_audit's secret scanner (see native/README.md)."""

from typing import Final

__version__: Final[str]
#: The version of the semantics; asgi_audit.record.engine uses the module only when it is 1.
ENGINE: Final[int]

class Scanner:
    """A rule table compiled for scanning, the same function as the reference scanner.

    Raises:
        ValueError: a pattern outside the subset, or a keyword not lower-case ASCII.
    """

    def __init__(self, rules: list[tuple[str, list[str], float, bool]]) -> None: ...
    def hits(self, text: str) -> list[tuple[int, int, int]]:
        """(start, end, rule index) per secret, str indexes, sorted; UnicodeEncodeError
        for a str with a lone surrogate."""
    def mask(self, text: str, mask: str) -> str:
        """``text`` with every secret replaced by ``mask``, the spans merged first."""
    def __len__(self) -> int: ...

def _shape_spans(text: str, random: bool) -> list[tuple[int, int]] | None:
    """asgi_audit.record.shapes.shape_spans(text, random) as sorted, distinct spans
    without names; None where only the reference can decide. ``text`` must be ASCII
    (ValueError otherwise). For the tests that hold the two alike."""
