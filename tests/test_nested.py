"""One walk over a nested field against the three steps it replaces.

:func:`asgi_audit.record.nested.redact_capped` must give, for every plain value, what
``caps.nested(redactor.redact(to_jsonable(value), None))`` gives: the same redacted
keys and values, the same masks under secret keys, the same cuts, the same
``[depth limit]`` and ``[cycle]`` markers, and the same ``changed`` flag. Values that
are not plain JSON must be refused (NotPlain), and the pipeline's field must then be
what the three steps give.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_audit.record.encoding import Caps, to_jsonable
from asgi_audit.record.events import RawEvent
from asgi_audit.record.nested import NotPlain, redact_capped
from asgi_audit.record.pipeline import Pipeline
from asgi_audit.record.redaction import Redactor

REDACTOR = Redactor()
CAPS = Caps(default_chars=24, max_items=3)

KEYS = st.sampled_from(
    [
        "a",
        "path",
        "password",
        "api_key",
        "token_count",
        "password=hunter2",
        "password=x",
        "…",
        "note",
        "ghp_" + "A1b2C3d4" * 5,
        "k\ud800",
        "k\udfff",
    ]
) | st.text(max_size=6)
TEXTS = st.sampled_from(
    [
        "password=hunter2",
        "Bearer abcdefghijklmnop",
        "/srv/a/b.md",
        "x" * 40,
        "\ud800 lone",
        "[depth limit]",
        "AKIA" + "ABCDEFGHIJKLMNOP",
    ]
) | st.text(max_size=30)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | TEXTS
)
PLAIN = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)
ODD = st.sampled_from([(1, 2), {1, 2}, b"bytes", frozenset({"a"}), object, 3 + 4j])
ANY = st.recursive(
    SCALARS | ODD,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


def surrogate_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(
            any(0xD800 <= ord(c) <= 0xDFFF for c in k) or surrogate_key(v) for k, v in value.items()
        )
    return isinstance(value, list) and any(surrogate_key(v) for v in value)


def three_steps(value: Any, caps: Caps = CAPS) -> tuple[Any, bool]:
    return caps.nested(REDACTOR.redact(to_jsonable(value), None))


@settings(max_examples=600, deadline=None)
@given(st.lists(PLAIN, max_size=5) | st.dictionaries(KEYS, PLAIN, max_size=6))
def test_one_walk_gives_what_the_three_steps_give(value: Any) -> None:
    try:
        got = redact_capped(value, REDACTOR, CAPS)
    except NotPlain:
        # Only a key with a lone surrogate is refused among plain values.
        assert surrogate_key(value)
        return
    assert got == three_steps(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(ANY, max_size=4) | st.dictionaries(KEYS, ANY, max_size=4))
def test_a_field_of_any_value_is_what_the_three_steps_give(value: Any) -> None:
    pipeline = Pipeline(redactor=REDACTOR, caps=CAPS, session_ids="omit", session_key=b"k")
    raw = RawEvent("tool", "tool_blocked", "blocked", time.time_ns(), None, {"details": value})
    event = pipeline.build(raw)
    expected, changed = three_steps(value)
    assert event["details"] == expected
    assert ("details" in event.get("truncated_fields", {})) is False  # nested cuts are -1
    assert event.get("truncated", False) is changed


def test_cycles_and_depth_are_marked_alike() -> None:
    loop: dict[str, Any] = {"a": 1}
    loop["self"] = loop
    deep: list[Any] = []
    for _ in range(14):
        deep = [deep]
    for value in (loop, deep, {"x": [loop, loop]}):
        assert redact_capped(value, REDACTOR, Caps()) == three_steps(value, Caps())
    assert redact_capped(loop, REDACTOR, Caps())[0] == {"a": 1, "self": "[cycle]"}


def test_keys_that_redact_alike_keep_the_later_value_at_the_earlier_place() -> None:
    first, second = "ghp_" + "A1b2C3d4" * 4 + "E5f6", "ghp_" + "Z9y8X7w6" * 4 + "V5u4"
    value = {f"{first} a": 1, "b": 2, f"{second} a": 3}
    got, _ = redact_capped(value, REDACTOR, Caps())
    assert got == three_steps(value, Caps())[0]
    assert list(got.items()) == [(f"{REDACTOR.mask} a", 3), ("b", 2)]


@pytest.mark.parametrize("odd", [(1, 2), {1}, b"x", object()])
def test_other_types_are_refused(odd: object) -> None:
    with pytest.raises(NotPlain):
        redact_capped({"a": [odd]}, REDACTOR, Caps())


def test_a_secret_key_masks_whatever_it_holds() -> None:
    value = {"password": {"deep": [1, 2, (3,)]}, "token": None, "api_key": 12}
    got, changed = redact_capped(value, REDACTOR, Caps())
    assert got == {"password": REDACTOR.mask, "token": None, "api_key": REDACTOR.mask}
    assert changed is False


def test_deep_dicts_end_in_the_same_depth_marker() -> None:
    value: dict[str, Any] = {"leaf": "x"}
    for i in range(14):
        value = {f"level{i}": value, "n": i}
    got = redact_capped(value, REDACTOR, Caps())
    assert got == three_steps(value, Caps())
    assert "[depth limit]" in repr(got[0])


def test_the_integer_bounds_and_the_cap_edges_are_the_three_steps() -> None:
    from asgi_audit.record.encoding import INT_MAX, INT_MIN

    caps = Caps(default_chars=24)
    value = [INT_MIN, INT_MAX, INT_MIN - 1, INT_MAX + 1, "y" * 24, "z" * 25]
    got, changed = redact_capped(value, REDACTOR, caps)
    assert (got, changed) == three_steps(value, caps)
    assert got[:4] == [INT_MIN, INT_MAX, str(INT_MIN - 1), str(INT_MAX + 1)]
    assert got[4] == "y" * 24
    assert changed is True


def test_a_mask_longer_than_the_cap_is_cut_like_any_nested_string() -> None:
    redactor = Redactor(mask="[" + "removed " * 5 + "]")
    value = {"password": "hunter2", "note": "fine"}
    got, changed = redact_capped(value, redactor, CAPS)
    assert (got, changed) == CAPS.nested(redactor.redact(to_jsonable(value), None))
    assert changed is True
    assert got["password"].startswith("[removed removed")


def test_a_mask_exactly_as_long_as_the_cap_stays_whole() -> None:
    caps = Caps(default_chars=16)
    redactor = Redactor(mask="#" * 16)
    got, changed = redact_capped({"password": "hunter2"}, redactor, caps)
    assert (got, changed) == ({"password": "#" * 16}, False)
