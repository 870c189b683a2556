"""How long each solution notebook takes to run, in fast and full mode, and every table of those times.

    python benchmarks/notebook_times.py                 # every notebook, both modes: just print the times
    python benchmarks/notebook_times.py 02 03 --modes fast
    python benchmarks/notebook_times.py --save          # also record them in benchmarks/notebook_times.json
    python benchmarks/notebook_times.py --write         # also store the full run's outputs in the notebooks
    python benchmarks/notebook_times.py --render        # no runs: write every table from notebook_times.json

Instructors: run the first line on one workshop laptop to plan the day.
Uses real data when RADKIT_LOCAL_DATA (or the cache) has it, as the course does.

One file holds the figures, ``benchmarks/notebook_times.json``: the measured running times and peak
memory, and the teaching and exercise minutes (our planning estimates of the talking and doing, edited by
hand there). ``--render`` writes from it the table in README.md, the tables in INSTRUCTORS.md (between
their "generated" comments) and the **Time:** line of each solution notebook's title cell; then run
``radkit build-course``. ``--save`` and ``--write`` render too.

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
FIGURES = Path(__file__).resolve().parent / "notebook_times.json"
DEFAULT_MINUTES = (30, 15)  # teaching, exercises: for a notebook the file does not list yet
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


def minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def gigabytes(megabytes: float | None) -> str:
    return "-" if megabytes is None else f"{megabytes / 1024:.1f} GB"


def load_figures(path: Path = FIGURES) -> dict:
    """The figures file: {"notebooks": {"02_first_classifier.ipynb": {"teaching_minutes", "exercise_minutes",
    "seconds": {"fast", "full"}, "peak_mb": {"fast", "full"}}, ...}} (plus "about" and "machine")."""
    return json.loads(path.read_text(encoding="utf-8"))


def lesson_minutes(entry: dict) -> tuple[int, int]:
    return entry.get("teaching_minutes", DEFAULT_MINUTES[0]), entry.get("exercise_minutes", DEFAULT_MINUTES[1])


def time_line(entry: dict) -> str:
    """The **Time:** line of a notebook's title cell."""
    teaching, exercises = lesson_minutes(entry)
    parts = [f"**Time:** about {teaching} min teaching and {exercises} min exercises."]
    full, fast = entry.get("seconds", {}).get("full"), entry.get("seconds", {}).get("fast")
    if full is not None:
        run = f"Running every cell takes {minutes(full)} on a 2-core laptop CPU"
        parts.append(run + (f" ({minutes(fast)} in fast mode)." if fast is not None else "."))
        parts.append("Measured with `benchmarks/notebook_times.py`.")
    return " ".join(parts)


def _label(name: str) -> str:
    return name.removesuffix(".ipynb").replace("_", " ", 1)


def times_table(figures: dict) -> str:
    """Teaching and exercise minutes, running times and peak memory: one row per notebook."""
    rows = ["| notebook | teaching + exercises (estimate) | running every cell | fast mode (`RADKIT_FAST=1`) "
            "| peak memory |", "|---|---|---|---|---|"]
    for name, entry in sorted(figures["notebooks"].items()):
        teaching, exercises = lesson_minutes(entry)
        seconds, peak = entry.get("seconds", {}), entry.get("peak_mb", {})
        rows.append(f"| {_label(name)} | {teaching} + {exercises} min | {minutes(seconds.get('full'))} "
                    f"| {minutes(seconds.get('fast'))} | {gigabytes(peak.get('full'))} |")
    return "\n".join(rows)


def memory_table(figures: dict) -> str:
    """Peak memory per notebook, full and fast mode (to size a JupyterHub)."""
    rows = ["| notebook | full mode | fast mode |", "|---|---|---|"]
    for name, entry in sorted(figures["notebooks"].items()):
        peak = entry.get("peak_mb", {})
        rows.append(f"| {_label(name)} | {gigabytes(peak.get('full'))} | {gigabytes(peak.get('fast'))} |")
    return "\n".join(rows)


TABLES = {"README.md": {"notebook times": times_table},
          "INSTRUCTORS.md": {"notebook times": times_table, "memory": memory_table}}


def between_markers(text: str, name: str, table: str, where: str) -> str:
    """Put ``table`` between the two comments that mark the generated table ``name`` in a document."""
    begin, end = f"<!-- {name}: generated by benchmarks/notebook_times.py --render -->", f"<!-- end of {name} -->"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{where} has no generated table '{name}': put the two lines\n{begin}\n{end}\n"
                         "where it belongs, then run this again.")
    return pattern.sub(lambda _: f"{begin}\n{table}\n{end}", text, count=1)


def render(figures: dict, root: Path = ROOT, notebooks: bool = True) -> list[Path]:
    """Write every timing table from the figures: the README's, INSTRUCTORS.md's and (``notebooks``) the
    Time line of each solution notebook that the figures list. Returns the files that changed."""
    changed = []
    for document, tables in TABLES.items():
        path = root / document
        text = path.read_text(encoding="utf-8")
        new = text
        for name, make in tables.items():
            new = between_markers(new, name, make(figures), document)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    if notebooks:
        for name, entry in sorted(figures["notebooks"].items()):
            path = root / "solutions" / name
            if not path.exists():
                continue
            nb = nbformat.read(path, as_version=4)
            title = nb.cells[0].source
            new = TIME_LINE.sub(lambda _: time_line(entry), title, count=1)
            if new != title:
                nb.cells[0].source = new
                nbformat.write(nb, path)
                changed.append(path)
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("numbers", nargs="*", help="notebook numbers, e.g. 02 05 (default: all)")
    parser.add_argument("--modes", nargs="+", default=["fast", "full"], choices=["fast", "full"])
    parser.add_argument("--save", action="store_true",
                        help=f"record the measured figures in {FIGURES.name} and render every table from it")
    parser.add_argument("--write", action="store_true",
                        help="store the full run's outputs in each solution notebook (implies --save)")
    parser.add_argument("--keep-time-lines", action="store_true",
                        help="with --write: store the outputs but record no figures (for a run on a busy machine, "
                             "whose timings would mislead)")
    parser.add_argument("--render", action="store_true",
                        help=f"run nothing: write every timing table from {FIGURES.name}")
    args = parser.parse_args()
    if args.render:
        for path in render(load_figures()):
            print(f"updated {path.relative_to(ROOT)}")
        print("Now run `radkit build-course` if a notebook changed.")
        return
    save = (args.save or args.write) and not args.keep_time_lines

    notebooks = sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
    if args.numbers:
        notebooks = [p for p in notebooks if p.name[:2] in args.numbers]
    local = "set" if os.environ.get("RADKIT_LOCAL_DATA") else "not set (downloads or phantoms)"
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
          f"Python {platform.python_version()}; RADKIT_LOCAL_DATA {local}")
    print(f"{'notebook':40s} {'fast':>9s} {'full':>9s} {'peak memory (MB)':>17s}")
    figures = load_figures() if FIGURES.exists() else {"notebooks": {}}
    for path in notebooks:
        runs = {mode: run_notebook(path, fast=(mode == "fast")) for mode in args.modes}
        took = {mode: seconds for mode, (seconds, _, _) in runs.items()}
        peak = {mode: peak_bytes / 2**20 for mode, (_, _, peak_bytes) in runs.items()}
        print(f"{path.name:40s} {minutes(took.get('fast')):>9s} {minutes(took.get('full')):>9s} "
              f"{' / '.join(f'{m} {v:.0f}' for m, v in peak.items()):>17s}", flush=True)
        entry = figures["notebooks"].setdefault(path.name, {})
        if save:
            entry.setdefault("seconds", {}).update({m: round(v, 1) for m, v in took.items()})
            entry.setdefault("peak_mb", {}).update({m: round(v) for m, v in peak.items()})
        if args.write:
            # The stored outputs are those of the full run (what a learner sees), when there was one.
            nb = runs["full"][1] if "full" in runs else nbformat.read(path, as_version=4)
            nbformat.write(nb, path)
    if save:
        figures["machine"] = f"{os.cpu_count()} logical cores, Python {platform.python_version()}"
        FIGURES.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
        for changed in render(figures):
            print(f"updated {changed.relative_to(ROOT)}")
    if args.write or save:
        print("Now run `radkit build-course`.")


if __name__ == "__main__":
    sys.exit(main())
