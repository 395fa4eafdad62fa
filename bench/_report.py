"""Shared by the benchmarks: ratios to a baseline measured in the same run.

Every contender is timed in interleaved repetitions beside its baseline; a figure
is the median of the per-repetition ratios, shown with its min..max.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Mapping, Sequence


def ratio_summary(values: Sequence[float], baseline: Sequence[float]) -> tuple[float, float, float]:
    """Median, min and max of ``values[i] / baseline[i]`` (same repetition)."""
    ratios = [v / b for v, b in zip(values, baseline, strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


def fmt_ratio(values: Sequence[float], baseline: Sequence[float]) -> str:
    med, lo, hi = ratio_summary(values, baseline)
    return f"{med:.2f}x ({lo:.2f}..{hi:.2f})"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """One line naming the machine the figures come from."""
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}"
    )


def failures_block(failures: Mapping[str, str]) -> str:
    """Contenders whose output failed verification: reported, never timed."""
    if not failures:
        return ""
    return "\n".join(f"- **{name}** failed verification: {why}" for name, why in failures.items())
