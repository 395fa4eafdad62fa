"""The C-speed gates that let redaction skip a regex pass must never skip a match.

Each gate is checked against the regex it stands in front of, on arbitrary text
(ASCII, non-ASCII, lone surrogates): when the gate says "no", the regex finds
nothing.
"""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from asgi_audit.record import pairs, shapes

# Text biased towards the characters the gates look at.
_alphabet = (
    st.sampled_from([*"aAfF09_-./+~= \t:", "é", "—", "\u2028", "\ud800", "ß", "٣"])
    | st.characters()
)
texts = st.text(alphabet=_alphabet, max_size=120)


@given(texts)
def test_the_digit_count_counts_ascii_digits(text: str) -> None:
    assert shapes._digit_count(shapes.ascii_bytes(text)) == sum(c in "0123456789" for c in text)


@given(texts)
@example("0123456789abcdef" * 3)
def test_the_hex_gate_never_hides_a_hex_run(text: str) -> None:
    data = shapes.ascii_bytes(text)
    if shapes._HEX_RUN not in data.translate(shapes._HEX_TABLE):
        assert shapes._HEX.search(text) is None


@given(texts)
@example("-p hunter2")
@example("é-p x")
@example("run --password s3cret")
def test_the_flag_gate_never_hides_a_flag(text: str) -> None:
    if not pairs.has_flag(shapes.ascii_bytes(text)):
        assert pairs._FLAG.search(text) is None


@given(texts)
@example("/a/" + "Zq9xW2rT5yU8iO1pA4sD7" + "/b")
def test_a_path_without_a_long_segment_is_kept_whole(text: str) -> None:
    run = "/" + text
    if shapes._LONG_SEGMENT.search(run) is None:
        parts = re.split(r"([/.~])", run)
        assert not any(shapes.random_token(p.rstrip("=")) for p in parts)


@given(
    st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
    | st.text(alphabet="0123456789ABCDEF", min_size=32, max_size=32)
    | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
)
@example("0" * 32)
@example("4111111111111111" * 2)
def test_a_digest_length_hex_string_is_kept_as_the_full_rules_keep_it(text: str) -> None:
    # The shortcut for digest-length hex in one case must agree with the full rules,
    # which see the same text with a space around it (no shortcut then).
    assert shapes.mask_shapes(text, "***") == text
    assert shapes.mask_shapes(" " + text + " ", "***") == " " + text + " "
