"""Cost of refusing hostile job files (issue 12, item 9). Prints times and ratios; passes/fails nothing.

    OMP_NUM_THREADS=1 .venv/bin/python bench/job_file_cost.py [--repeats 3]

1. Scaling with the number of unknown keys: the time for 4x the keys as a ratio to the
   time for 1x, measured side by side in this run. Linear work gives about 4; the old
   reader, which looked up each problem's position by scanning the mapping and worked out
   every problem, gave about 16 (quadratic: 39 s for 40,000 keys).
2. Files the reader must refuse at once: a 50 MB file, 200,000 levels of nesting, and
   a duplicate key in a real-sized file, each as a ratio to reading a valid job file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from hostile_job_files import write_deep, write_fifty_megabytes  # noqa: E402

from seer.platform.loading import SpecError, load_job, parse_job  # noqa: E402

VALID = "metadata: {name: demo}\nspec:\n  data: {batchSize: 8}\n  optim: {epochs: 2}\n"


def seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            fn()
        except SpecError:
            pass
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def unknown_keys(n: int) -> str:
    return "metadata: {name: demo}\nspec:\n  data:\n" + "".join(f"    k{i}: 0\n" for i in range(n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print("1. unknown keys: time(4n) / time(n)  (linear ~4, quadratic ~16)")
    for n in (2_500, 10_000):
        small, large = unknown_keys(n), unknown_keys(4 * n)
        t_small = seconds(lambda text=small: parse_job(text), args.repeats)
        t_large = seconds(lambda text=large: parse_job(text), args.repeats)
        print(
            f"   n={n:>6}: {t_small * 1000:8.1f} ms -> {4 * n:>6}: {t_large * 1000:8.1f} ms"
            f"   ratio {t_large / t_small:5.1f}"
        )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        valid = root / "valid.yaml"
        valid.write_text(VALID)
        huge = write_fifty_megabytes(root / "huge.yaml")
        deep = write_deep(root / "deep.yaml")
        dup = root / "dup.yaml"
        dup.write_text(VALID + "  data: {batchSize: 9}\n")

        base = seconds(lambda: load_job(valid), args.repeats)
        print(f"2. refusals, as a ratio to reading a valid job file ({base * 1000:.1f} ms)")
        for name, path in (("50 MB file", huge), ("200,000 levels", deep), ("duplicate key", dup)):
            t = seconds(lambda p=path: load_job(p), args.repeats)
            print(f"   {name:<16} {t * 1000:8.1f} ms   ratio {t / base:6.1f}")


if __name__ == "__main__":
    main()
