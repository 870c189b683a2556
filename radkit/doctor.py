"""``radkit doctor``: is this computer ready for the course? What to do if not.

Introduced in notebook 00_start_here. Instructors: run ``radkit doctor`` on
every machine before a workshop. Each line is OK, NOTE (works, but read
this) or PROBLEM (fix it before the course), with what to do.
"""

from __future__ import annotations

import platform
import shutil
import socket
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from radkit import config, registry
from radkit.errors import RadkitError

MIN_MEMORY_GB = 4
MIN_DISK_GB = 2
KEY_PACKAGES = ["tensorflow", "keras", "numpy", "pydicom", "pydicom-data", "pylibjpeg-libjpeg", "scikit-learn",
                "matplotlib", "ipywidgets", "jupyterlab", "tf-explain", "pooch"]


@dataclass
class Check:
    """One line of the report."""

    name: str
    status: str  # "OK", "NOTE" or "PROBLEM"
    detail: str
    fix: str = ""


def _pinned_versions() -> dict[str, str]:
    """The versions radkit asks for (from its own package metadata)."""
    pins = {}
    try:
        requirements = metadata.requires("radkit-course") or []
    except metadata.PackageNotFoundError:
        return pins
    for requirement in requirements:
        if "==" in requirement and "extra ==" not in requirement:
            name, version = requirement.split(";")[0].split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def check_python() -> Check:
    version = platform.python_version()
    ok = (3, 11) <= sys.version_info[:2] <= (3, 13)
    return Check("Python", "OK" if ok else "PROBLEM", f"{version} at {sys.executable}",
                 "" if ok else "Install Python 3.11 (python.org) and run the set-up command again.")


def check_packages() -> list[Check]:
    pins, checks = _pinned_versions(), []
    for name in KEY_PACKAGES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            checks.append(Check(name, "PROBLEM", "not installed",
                                "Run the set-up command from the README again (python3 run.py course)."))
            continue
        wanted = pins.get(name.lower())
        if wanted and wanted != version:
            checks.append(Check(name, "NOTE", f"{version} (the course was tested with {wanted})",
                                "It will probably work; if something breaks, run the set-up command again."))
        else:
            checks.append(Check(name, "OK", version))
    return checks


def check_compute() -> list[Check]:
    import psutil

    cores = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    cpu = Check("CPU", "OK", f"{cores} core(s), {platform.machine()}, {platform.system()} {platform.release()}")
    memory_gb = psutil.virtual_memory().total / 1e9
    memory = Check("Memory", "OK" if memory_gb >= MIN_MEMORY_GB else "PROBLEM", f"{memory_gb:.1f} GB",
                   "" if memory_gb >= MIN_MEMORY_GB else
                   "Close other programs, and turn on fast mode (set RADKIT_FAST=1) for smaller data.")
    try:
        tf = config.import_tensorflow()

        gpus = tf.config.list_physical_devices("GPU")
        gpu = Check("GPU", "OK", f"{len(gpus)} GPU(s) found" if gpus else
                    "none (not needed: every notebook runs on the CPU in minutes)")
    except Exception as error:  # a broken TensorFlow install must not stop the report
        gpu = Check("TensorFlow", "PROBLEM", f"cannot start: {type(error).__name__}: {error}",
                    "Run the set-up command from the README again; on Apple computers use Python 3.11 from python.org.")
    return [cpu, memory, gpu]


def check_disk() -> Check:
    folder = config.data_dir()
    free_gb = shutil.disk_usage(folder).free / 1e9
    ok = free_gb >= MIN_DISK_GB
    return Check("Disk", "OK" if ok else "PROBLEM", f"{free_gb:.1f} GB free for the data folder {folder}",
                 "" if ok else "Free some space, or set RADKIT_DATA to a folder on a bigger disk.")


def check_data() -> list[Check]:
    """Which datasets are already on this computer."""
    from radkit.download import stored_copy

    checks = []
    for key, dataset in registry.DATASETS.items():
        if not dataset.files:
            continue
        found = [str(variant) for variant, file in dataset.files.items() if stored_copy(key, file.name)]
        checks.append(Check(f"Data: {key}", "OK" if found else "NOTE",
                            f"on this computer ({', '.join(found)})" if found else "not downloaded yet",
                            "" if found else f"Fine: it downloads when first used, or now with `radkit fetch {key}`; "
                                             "offline, the notebooks use practice phantoms instead."))
    try:
        from radkit import dicom

        example = dicom.example_path("RG1_UNCR.dcm")
        checks.append(Check("Data: example DICOM", "OK", f"pydicom-data at {Path(example).parent}"))
    except Exception as error:
        checks.append(Check("Data: example DICOM", "PROBLEM", f"not found ({error})",
                            "Run the set-up command again (it installs pydicom-data)."))
    return checks


def check_pack() -> list[Check]:
    """When RADKIT_LOCAL_DATA is a workshop data pack, check every file in it (INSTRUCTORS.md)."""
    from radkit import pack

    folder = config.local_data_dir()
    if not pack.is_pack(folder):
        return []
    try:
        rows = pack.verify_pack(folder)
    except RadkitError as error:
        return [Check("Data pack", "PROBLEM", error.problem, error.fix or "")]
    bad = [row for row in rows if not row["ok"]]
    if not bad:
        return [Check("Data pack", "OK", f"all {len(rows)} files verified (present, unchanged, readable)")]
    return [Check("Data pack", "PROBLEM", f"{len(bad)} of {len(rows)} files: {bad[0]['path']} is {bad[0]['problem']}"
                  + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""),
                  "Copy the pack again from the instructor's original, or run `python3 run.py pack --verify "
                  "FOLDER` to list every problem.")]


def check_internet(host: str = "zenodo.org", timeout: float = 3.0) -> Check:
    """Can this computer reach the data host? Only opens a connection; sends nothing."""
    if config.offline():
        return Check("Internet", "NOTE", "RadKit is set to work offline (RADKIT_OFFLINE=1)",
                     "Fine: notebooks use data already on this computer or the practice phantoms.")
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return Check("Internet", "OK", f"{host} is reachable, so real data can be downloaded")
    except OSError as error:
        return Check("Internet", "NOTE", f"{host} cannot be reached ({type(error).__name__})",
                     "Fine for the course: notebooks use data already on this computer or the practice "
                     "phantoms. For real data, connect and run `radkit fetch pneumoniamnist`, or ask your "
                     "instructor for a folder of files and set RADKIT_LOCAL_DATA to it.")


def check_browser_tools() -> Check:
    """Notebook 09 can take a screenshot of the web app when Node.js and Chromium are installed."""
    node, chromium = shutil.which("node"), shutil.which("chromium") or shutil.which("chromium-browser")
    if node and chromium:
        return Check("Browser tools (notebook 09)", "OK", "node and chromium found")
    return Check("Browser tools (notebook 09)", "NOTE", "node or chromium not found",
                 "Only needed for the automatic browser tests; in notebook 09 you open the app in your own browser.")


def run_checks() -> list[Check]:
    """All the checks, in the order they are printed."""
    return [check_python(), *check_packages(), *check_compute(), check_disk(), *check_data(), *check_pack(),
            check_internet(), check_browser_tools()]


def doctor(checks: list[Check] | None = None) -> bool:
    """Print a readable report of this computer's set-up. Returns True when nothing needs fixing."""
    from radkit import __version__

    checks = run_checks() if checks is None else checks
    print(f"RadKit {__version__} doctor: checking this computer\n")
    print(f"Data folder (RADKIT_DATA): {config.data_dir()}")
    print(f"Pre-fetched data (RADKIT_LOCAL_DATA): {config.local_data_dir() or 'not set'}")
    print(f"Fast mode (RADKIT_FAST): {'on' if config.fast_mode() else 'off'}\n")
    width = max(len(c.name) for c in checks)
    for check in checks:
        print(f"  {check.status:8s} {check.name:{width}s}  {check.detail}")
        if check.fix:
            print(f"  {'':8s} {'':{width}s}  -> {check.fix}")
    problems = [c for c in checks if c.status == "PROBLEM"]
    print()
    if problems:
        print(f"{len(problems)} problem(s) to fix before the course: see the lines marked PROBLEM.")
    else:
        print("All set: this computer is ready for the course.")
    return not problems
