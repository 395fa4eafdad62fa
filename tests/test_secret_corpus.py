"""Redaction measured against an outside corpus (``tests/secret_corpus``).

Every fake secret of every published format goes into every placement, and every
ordinary value into every placement that does not itself name a secret, through the
public event methods of one Auditor; then the files are read back. Every event must be
whole, no 8-character fragment of a secret may reach a file, and no ordinary value may
be masked. The corpus was written from providers' documentation and public lists of
secret formats, not from the library's rules.

The measurement is checked on itself first: with redaction off, every secret must be
found leaked and no ordinary value masked, so a zero below means redaction, not a blind
detector.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from tests.secret_corpus.formats import FORMATS, PROVIDERS, SEED, samples
from tests.secret_corpus.generate import MIN_NEEDLE
from tests.secret_corpus.measure import Report, measure
from tests.secret_corpus.ordinary import ordinary_values
from tests.secret_corpus.placements import PLACEMENTS


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return measure(tmp_path_factory.mktemp("corpus") / "logs")


def test_the_corpus_covers_the_promised_ground() -> None:
    assert len(PROVIDERS) >= 150
    assert len(FORMATS) >= len(PROVIDERS)
    assert len(PLACEMENTS) >= 11
    assert len(ordinary_values(SEED)) >= 300
    assert len({(f.provider, f.name) for f in FORMATS}) == len(FORMATS)
    assert all(f.source for f in FORMATS)
    assert sum(f.context for f in FORMATS) >= 50  # secrets that need their keyword


def test_secrets_are_reproducible_random_and_made_for_this_corpus() -> None:
    first = [s.sample for s in samples(SEED)]
    assert first == [s.sample for s in samples(SEED)]
    other = [s.sample for s in samples(SEED + 1)]
    assert all(a.needles != b.needles for a, b in zip(first, other, strict=True))
    needles = [n for s in first for n in s.needles]
    assert all(len(n) >= MIN_NEEDLE for n in needles)
    assert len(set(needles)) == len(needles)


def test_ordinary_values_fit_every_cap_and_hold_no_secret() -> None:
    values = [o.value for o in ordinary_values(SEED)]
    assert len(set(values)) == len(values)
    assert max(map(len, values)) <= 400  # below raw_input's 500-character cap
    needles = [n for s in samples(SEED) for n in s.sample.needles]
    rng = random.Random(SEED)
    for needle in rng.sample(needles, 200):
        assert not any(needle in v for v in values)


def test_with_redaction_off_every_secret_is_found_and_no_ordinary_value_lost(
    tmp_path: Path,
) -> None:
    blind = measure(tmp_path / "logs", redact=False)
    assert blind.broken == []
    assert len(blind.leaks) == len(blind.secrets)
    assert blind.masked == []


def test_every_event_is_whole(report: Report) -> None:
    assert report.broken == [], report.summary()
    assert Counter(o.plant.kind for o in report.outcomes) == {
        "secret": len(report.secrets),
        "ordinary": len(report.ordinary),
    }


def test_no_fragment_of_a_secret_reaches_a_file(report: Report) -> None:
    assert report.leaks == [], report.summary()


def test_no_ordinary_value_is_masked(report: Report) -> None:
    assert report.masked == [], report.summary()
