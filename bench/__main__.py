"""`make bench`: every benchmark, one table of ratios against baselines measured in this same run."""

from __future__ import annotations

import importlib
import platform
import sys

from bench.common import Report

SUITES = ["bench.pool", "bench.provisioning", "bench.qa_ready", "bench.team"]


def main() -> None:
    report = Report()
    for name in SUITES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            print(f"(skipping {name}: not present)", file=sys.stderr)
            continue
        print(f"running {name} ...", file=sys.stderr)
        module.run(report)
    print(f"\nmachine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(report.render())


if __name__ == "__main__":
    main()
