"""Plant every secret in every placement through the public API, then read what was written.

One :class:`asgi_audit.Auditor` writes every planted event (a few thousand) to a temporary
directory through the documented event methods (``injection_attempt``, ``tool_blocked``,
``api_access``, ``login_attempt``, ``session_event``, ``emit``); each event carries its
case number in an integer field, ``corpus_case``, which redaction leaves alone. Once the
Auditor has drained, every line of every file is read back and each case is judged:

* **whole**: its line parses as one JSON object without ``encoding_error``;
* **leaked** (secrets): some 8-character window of a needle (a random part of the secret)
  is still in the line: as written, JSON-unescaped, or percent-decoded;
* **masked** (ordinary values): the planted value is no longer verbatim in the field it
  was planted in.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, unquote_plus

from asgi_audit import Auditor

from .formats import SEED, samples
from .generate import MIN_NEEDLE
from .ordinary import ordinary_values
from .placements import PLACEMENTS

__all__ = (
    "Outcome",
    "Plant",
    "Report",
    "judge",
    "leaked_fragment",
    "measure",
    "measure_async",
    "plan",
    "record",
    "still_there",
)

#: The integer field that carries a plant's case number.
CASE: Final = "corpus_case"
#: The category of the events made with ``emit``.
CATEGORY: Final = "corpus"


@dataclass(frozen=True, slots=True)
class Plant:
    """One value planted in one place."""

    case: int
    kind: str  # "secret" or "ordinary"
    family: str
    provider: str
    name: str
    placement: str
    slot: str
    planted: str
    needles: tuple[str, ...] = ()


def plan(seed: int = SEED, per_format: int = 1) -> list[Plant]:
    """Every secret in every placement that takes it, then every ordinary value likewise."""
    plants: list[Plant] = []
    for secret in samples(seed, per_format):
        fmt, text = secret.format, secret.sample.text
        for placement in PLACEMENTS:
            if placement.accepts(text):
                plants.append(
                    Plant(
                        len(plants), "secret", fmt.family, fmt.provider, fmt.name,
                        placement.name, placement.slot, placement.plant(text),
                        secret.sample.needles,
                    )
                )  # fmt: skip
    for value in ordinary_values(seed):
        for placement in PLACEMENTS:
            if placement.ordinary and placement.accepts(value.value):
                plants.append(
                    Plant(
                        len(plants), "ordinary", value.kind, "ordinary", value.kind,
                        placement.name, placement.slot, placement.plant(value.value),
                    )
                )  # fmt: skip
    return plants


async def record(auditor: Auditor, plant: Plant) -> None:
    """Make ``plant``'s event through the public event method its slot calls for.

    The case number travels as an extra keyword field, ``corpus_case`` (an int).
    """
    v, case, slot = plant.planted, plant.case, plant.slot
    if slot == "raw_input":
        await auditor.injection_attempt(
            rule_name="corpus_probe", severity="LOW", outcome="logged", raw_input=v,
            corpus_case=case,
        )  # fmt: skip
    elif slot == "blocked_reason":
        await auditor.tool_blocked(
            tool_name="read_file", blocked_path="/srv/app/notes.txt", blocked_reason=v,
            corpus_case=case,
        )  # fmt: skip
    elif slot == "request_path":
        await auditor.api_access(method="GET", request_path=v, status_code=200, corpus_case=case)
    elif slot == "details.note":
        await auditor.tool_blocked(
            tool_name="http_get", details={"note": v, "attempt": 2}, corpus_case=case
        )
    elif slot == "labels.<key>":
        await auditor.emit(CATEGORY, "labels_seen", labels={v: "seen"}, corpus_case=case)
    elif slot == "error_message":
        try:
            raise RuntimeError(v)
        except RuntimeError as exc:
            await auditor.login_attempt(
                "failed", user_id="alice", error_message=str(exc), exc_info=exc, corpus_case=case
            )
    elif slot == "request_headers.x-note":
        await auditor.api_access(
            method="GET", request_path="/api/v1/items", status_code=200,
            request_headers={"accept": "application/json", "x-note": v}, corpus_case=case,
        )  # fmt: skip
    elif slot == "user_agent":
        await auditor.session_event(
            "session_refreshed", user_id="alice", user_agent=v, corpus_case=case
        )
    elif slot in ("payload", "link", "command", "log_excerpt"):
        fields: dict[str, Any] = {slot: v, CASE: case}
        await auditor.emit(CATEGORY, f"{slot}_recorded", **fields)
    else:
        raise AssertionError(f"unknown slot {slot!r}")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one plant."""

    plant: Plant
    whole: bool
    fragment: str | None = None  # a leaked window of a needle (secrets)
    masked: bool = False  # the value is gone from its field (ordinary values)

    @property
    def leaked(self) -> bool:
        return self.fragment is not None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _grams(texts: Iterable[str]) -> set[str]:
    grams: set[str] = set()
    for text in texts:
        grams.update(text[i : i + MIN_NEEDLE] for i in range(len(text) - MIN_NEEDLE + 1))
    return grams


def leaked_fragment(line: str, event: dict[str, Any], needles: Iterable[str]) -> str | None:
    """The first 8-character window of a needle found in the line, in any of its forms."""
    decoded = "\n".join(_strings(event))
    grams = _grams((line, decoded, unquote(decoded), unquote_plus(decoded)))
    for needle in needles:
        for i in range(len(needle) - MIN_NEEDLE + 1):
            window = needle[i : i + MIN_NEEDLE]
            if window in grams:
                return window
    return None


def still_there(event: dict[str, Any], plant: Plant) -> bool:
    """Whether the planted value is verbatim in the field it was planted in."""
    field = plant.slot.split(".", 1)[0]
    return any(plant.planted in text for text in _strings(event.get(field)))


def _lines(log_dir: Path) -> Iterator[str]:
    for path in sorted(log_dir.glob("*.jsonl")):
        yield from path.read_text(encoding="utf-8").splitlines()


def judge(log_dir: Path, plants: list[Plant]) -> list[Outcome]:
    """Read every file of ``log_dir`` back and judge each plant."""
    found: dict[int, tuple[str, dict[str, Any]]] = {}
    for line in _lines(log_dir):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and "encoding_error" not in event:
            case = event.get(CASE)
            if isinstance(case, int):
                found[case] = (line, event)
    outcomes = []
    for plant in plants:
        if plant.case not in found:
            outcomes.append(Outcome(plant, whole=False, masked=plant.kind == "ordinary"))
            continue
        line, event = found[plant.case]
        if plant.kind == "secret":
            outcomes.append(
                Outcome(plant, True, fragment=leaked_fragment(line, event, plant.needles))
            )
        else:
            outcomes.append(Outcome(plant, True, masked=not still_there(event, plant)))
    return outcomes


async def measure_async(
    log_dir: Path, *, seed: int = SEED, per_format: int = 1, redact: bool = True
) -> Report:
    """Plant the whole corpus into a new Auditor writing to ``log_dir``, then judge it.

    ``redact=False`` turns redaction off: every secret must then be found leaked and no
    ordinary value masked, which checks the measurement itself.
    """
    return await plant_all(log_dir, plan(seed, per_format), redact=redact)


async def plant_all(log_dir: Path, plants: list[Plant], *, redact: bool = True) -> Report:
    """Record ``plants`` through a new Auditor writing to ``log_dir``, then judge them."""
    auditor = Auditor(
        log_dir=log_dir,
        self_audit=False,
        redact=redact,
        key=secrets.token_hex(32),  # a static key: no key file is made anywhere
        queue_capacity=len(plants) + 16,
    )
    async with auditor:
        for plant in plants:
            await record(auditor, plant)
    return Report(judge(log_dir, plants))


def measure(log_dir: Path, *, seed: int = SEED, per_format: int = 1, redact: bool = True) -> Report:
    """:func:`measure_async` from synchronous code (no event loop running)."""
    return asyncio.run(measure_async(log_dir, seed=seed, per_format=per_format, redact=redact))


@dataclass(frozen=True, slots=True)
class Report:
    """Every outcome of a run, and its counts."""

    outcomes: list[Outcome]

    @property
    def secrets(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.plant.kind == "secret"]

    @property
    def ordinary(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.plant.kind == "ordinary"]

    @property
    def broken(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.whole]

    @property
    def leaks(self) -> list[Outcome]:
        return [o for o in self.secrets if o.leaked]

    @property
    def masked(self) -> list[Outcome]:
        return [o for o in self.ordinary if o.masked]

    def summary(self, examples: int = 15) -> str:
        """The counts per family, placement and provider, and a few examples of each miss."""
        out = [
            f"secrets planted {len(self.secrets)}, leaked {len(self.leaks)}; "
            f"ordinary values planted {len(self.ordinary)}, masked {len(self.masked)}; "
            f"events not whole {len(self.broken)}",
        ]
        out += _table("leaked / planted, by secret family", self.secrets, lambda p: p.family)
        out += _table("leaked / planted, by placement", self.secrets, lambda p: p.placement)
        leaking = Counter(o.plant.provider for o in self.leaks)
        out.append(
            "leaking providers: "
            + (", ".join(f"{p} {n}" for p, n in leaking.most_common()) or "none")
        )
        out += _table("masked / planted, by ordinary kind", self.ordinary, lambda p: p.family)
        out += _table("masked / planted, by placement", self.ordinary, lambda p: p.placement)
        out += self.examples(examples)
        return "\n".join(out)

    def examples(self, n: int) -> list[str]:
        """Up to ``n`` examples of each kind of miss, one line each."""
        out = []
        for title, items in (
            ("leaks", self.leaks),
            ("masked", self.masked),
            ("not whole", self.broken),
        ):
            if items and n:
                out.append(f"examples of {title}:")
                for o in items[:n]:
                    p = o.plant
                    what = f"fragment {o.fragment!r}" if o.leaked else repr(p.planted[:90])
                    who = f"{p.provider}: {p.name}" if p.kind == "secret" else p.family
                    out.append(f"  [{p.placement}] {who}: {what}")
        return out


def _table(title: str, outcomes: list[Outcome], key: Any) -> list[str]:
    planted: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for o in outcomes:
        k = key(o.plant)
        planted[k] += 1
        missed[k] += o.leaked or o.masked or not o.whole
    rows = [f"{title}:"]
    rows += [f"  {k:<36} {missed[k]:>5} / {n}" for k, n in sorted(planted.items())]
    return rows
