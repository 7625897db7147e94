"""Time and memory of the sandbox data generator at benchmark scale.

    .venv/bin/python bench/gen_data.py --scale 2000          # 100,000 suppliers, 200,000 invoices
    .venv/bin/python bench/gen_data.py --scale 1 --seed 8

Prints one line per run: wall time of ``populate``, peak RSS of the process, and record counts.
Each run uses fresh states on a FakeClock, so the numbers do not depend on the date.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time

from ml_connector.clock import FakeClock
from ml_connector.sandbox.data import populate
from ml_connector.sandbox.fusion import FusionState
from ml_connector.sandbox.servicetitan import STState


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=2000.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--suppliers", type=int, default=None)
    parser.add_argument("--invoices", type=int, default=None)
    args = parser.parse_args(argv)
    clock = FakeClock()
    fusion, st = FusionState(clock), STState(clock=clock)
    started = time.perf_counter()
    ds = populate(
        fusion,
        st,
        seed=args.seed,
        scale=args.scale,
        suppliers=args.suppliers,
        invoices=args.invoices,
    )
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    expected = ds.expected
    print(f"python {platform.python_version()} on {platform.machine()}, scale {args.scale:g}")
    print(f"populate: {elapsed:.1f} s, peak RSS {peak_mb:.0f} MB")
    print("counts: " + ", ".join(f"{k}={v}" for k, v in ds.counts.items()))
    for name in ("suppliers", "purchase_orders", "invoices", "payments"):
        outcome = getattr(expected, name)
        print(
            f"expected {name}: eligible={len(outcome.eligible)} "
            f"attention={len(outcome.attention)} skipped={len(outcome.skipped)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
