"""How long each solution notebook takes to run, in fast and full mode, on this computer.

    python benchmarks/notebook_times.py                 # every notebook, both modes
    python benchmarks/notebook_times.py 02 03 --modes fast
    python benchmarks/notebook_times.py --write         # also save the full run's outputs and Time line
    python benchmarks/notebook_times.py --json times.json   # also save the figures (INSTRUCTORS.md uses them)
    python benchmarks/notebook_times.py --modes full --write --keep-time-lines   # refresh outputs only

Instructors: run this on one workshop laptop to plan the day. The notebooks'
**Time:** lines come from this script (``--write``), with the teaching and
exercise minutes below, which are our estimates of the talking and doing.
Uses real data when RADKIT_LOCAL_DATA (or the cache) has it, as the course does.

It also reports each notebook's peak memory: the largest resident memory (RSS) of the
kernel and everything it starts (sampled 10 times a second), which is what a
JupyterHub must give each learner (see INSTRUCTORS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import platform
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"

# Minutes of teaching and of exercises per notebook (planning estimates, not measurements).
LESSON_MINUTES = {
    "00": (20, 10), "01": (35, 20), "02": (40, 20), "03": (40, 25), "04": (30, 15), "05": (35, 20),
    "06": (35, 20), "07": (35, 20), "08": (40, 20), "09": (30, 15), "10": (30, 20),
}
TIME_LINE = re.compile(r"\*\*Time:\*\*[^\n]*")


class PeakMemory:
    """Samples the memory of this process's children (the kernel and what it starts) in the background."""

    def __init__(self, every: float = 0.1):
        import psutil

        self.me, self.every, self.peak, self._stop = psutil.Process(), every, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(self.every):
            total = 0
            for child in self.me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:  # a child that just ended
                    pass
            self.peak = max(self.peak, total)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_notebook(path: Path, fast: bool) -> tuple[float, nbformat.NotebookNode, int]:
    """Execute a notebook in a fresh kernel; returns the seconds taken, the executed notebook and peak bytes."""
    nb = nbformat.read(path, as_version=4)
    env_before = os.environ.get("RADKIT_FAST")
    os.environ["RADKIT_FAST"] = "1" if fast else "0"
    try:
        start = time.perf_counter()
        with PeakMemory() as memory:
            NotebookClient(nb, timeout=1800, kernel_name="python3", allow_errors=False,
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        return time.perf_counter() - start, nb, memory.peak
    finally:
        if env_before is None:
            os.environ.pop("RADKIT_FAST", None)
        else:
            os.environ["RADKIT_FAST"] = env_before


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def time_line(number: str, full: float | None, fast: float | None) -> str:
    teaching, exercises = LESSON_MINUTES.get(number, (30, 15))
    parts = [f"**Time:** about {teaching} min teaching and {exercises} min exercises."]
    if full is not None:
        run = f"Running every cell takes {minutes(full)} on a 2-core laptop CPU"
        parts.append(run + (f" ({minutes(fast)} in fast mode)." if fast is not None else "."))
    parts.append("Measured with `benchmarks/notebook_times.py`.")
    return " ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("numbers", nargs="*", help="notebook numbers, e.g. 02 05 (default: all)")
    parser.add_argument("--modes", nargs="+", default=["fast", "full"], choices=["fast", "full"])
    parser.add_argument("--write", action="store_true", help="write the Time line into each solution notebook")
    parser.add_argument("--json", help="also save the figures to this JSON file")
    parser.add_argument("--keep-time-lines", action="store_true",
                        help="with --write: store the outputs but leave the Time lines as they are "
                             "(for a run on a busy machine, whose timings would mislead)")
    args = parser.parse_args()

    notebooks = sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
    if args.numbers:
        notebooks = [p for p in notebooks if p.name[:2] in args.numbers]
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
          f"Python {platform.python_version()}; data: RADKIT_LOCAL_DATA={os.environ.get('RADKIT_LOCAL_DATA', '-')}")
    print(f"{'notebook':40s} {'fast':>9s} {'full':>9s} {'peak memory (MB)':>17s}")
    figures = {}
    for path in notebooks:
        runs = {mode: run_notebook(path, fast=(mode == "fast")) for mode in args.modes}
        took = {mode: seconds for mode, (seconds, _, _) in runs.items()}
        peak = {mode: peak_bytes / 2**20 for mode, (_, _, peak_bytes) in runs.items()}
        figures[path.name] = {"seconds": took, "peak_mb": peak}
        print(f"{path.name:40s} {minutes(took['fast']) if 'fast' in took else '-':>9s} "
              f"{minutes(took['full']) if 'full' in took else '-':>9s} "
              f"{' / '.join(f'{m} {v:.0f}' for m, v in peak.items()):>17s}", flush=True)
        if args.write:
            # The stored outputs are those of the full run (what a learner sees), when there was one.
            nb = runs["full"][1] if "full" in runs else nbformat.read(path, as_version=4)
            if not args.keep_time_lines:
                line = time_line(path.name[:2], took.get("full"), took.get("fast"))
                nb.cells[0].source = TIME_LINE.sub(lambda _: line, nb.cells[0].source, count=1)
            nbformat.write(nb, path)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": f"{os.cpu_count()} logical cores, Python "
                                                          f"{platform.python_version()}", "notebooks": figures},
                                              indent=1) + "\n")
    if args.write:
        print("Time lines written; now run `radkit build-course`.")


if __name__ == "__main__":
    sys.exit(main())
