"""What every benchmark shares: percentiles, a report table, and baseline peers started the same way as the sidecar."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


@dataclass
class Report:
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)

    def add(self, name: str, measured: str, baseline: str, ratio: float | None, target: str) -> None:
        self.rows.append((name, measured, baseline, f"{ratio:.2f}x" if ratio is not None else "-", target))
        print(f"  {name}: {measured} vs {baseline} -> {self.rows[-1][3]} (target {target})", file=sys.stderr)

    def render(self) -> str:
        header = ("figure", "measured", "baseline", "ratio", "target")
        widths = [max(len(str(r[i])) for r in [header, *self.rows]) for i in range(5)]
        lines = [" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in [header, *self.rows]]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        return "\n".join(lines)
