"""Seconds to generate SynPD (smoke, default) and SynAct (smoke, default) into a temporary folder.

Run: `python benchmarks/bench_synth.py [--skip-default]`. Targets on a 2-core CPU: SynPD smoke < 20 s,
SynPD default < 5 min, SynAct default about 1-2 min.
"""

import argparse
import tempfile
import time
from pathlib import Path

from pdlib.synth import make_synact, make_synpd


def main() -> None:
    """Time each generation once and print one line per dataset and size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-default", action="store_true", help="time the smoke sizes only")
    args = parser.parse_args()
    sizes = ("smoke",) if args.skip_default else ("smoke", "default")
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in (("SynPD", make_synpd), ("SynAct", make_synact)):
            for size in sizes:
                start = time.perf_counter()
                out = make(Path(tmp) / f"{name}-{size}", size=size, seed=0, progress=False)
                seconds = time.perf_counter() - start
                n = sum(1 for p in (out / "videos").rglob("*") if p.is_file())
                print(f"{name:6s} {size:7s} {n:5d} videos {seconds:7.1f} s", flush=True)


if __name__ == "__main__":
    main()
