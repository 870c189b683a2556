"""``radkit doctor``: is this computer ready for the course? What to do if not.

Introduced in notebook 00_start_here. Instructors: run ``radkit doctor`` on
every machine before a workshop. Each line is OK, NOTE (works, but read
this) or PROBLEM (fix it before the course), with what to do.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
from dataclasses import dataclass
from importlib import metadata

from radkit import config, registry
from radkit.errors import RadkitError

MIN_MEMORY_GB = 4
MIN_DISK_GB = 2
# The dataset files the notebooks ask for: load_pneumonia(size=28) in 02, size=64 in 03, 04, 05 and 09.
# (A notebook that asks for 64 px and finds only 28 px uses the 28 px films, enlarged.)
NOTEBOOK_FILES = {"pneumoniamnist": (28, 64)}
KEY_PACKAGES = ["tensorflow", "keras", "numpy", "pydicom", "pydicom-data", "pylibjpeg-libjpeg", "scikit-learn",
                "matplotlib", "ipywidgets", "jupyterlab", "tf-explain", "requests"]
# TensorFlow comes as one of two packages with the same files: the CPU-only build (Linux and Windows on x86-64)
# or the standard one (macOS, ARM, a GPU). Exactly one must be installed.
TENSORFLOW_BUILDS = ("tensorflow-cpu", "tensorflow")


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
    """Is this a Python the course supports (3.11 to 3.13)?"""
    version = platform.python_version()
    ok = (3, 11) <= sys.version_info[:2] <= (3, 13)
    return Check("Python", "OK" if ok else "PROBLEM",
                 f"{version} at {config.display_path(sys.executable, data_folders=False)}",
                 "" if ok else "Install Python 3.11 (python.org) and run the set-up command again.")


def _installed_versions(name: str) -> dict[str, str]:
    """The installed package(s) behind a name: for "tensorflow", whichever TensorFlow builds are installed."""
    found = {}
    for package in (TENSORFLOW_BUILDS if name == "tensorflow" else (name,)):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def check_packages() -> list[Check]:
    """Is each key package installed, at the version the course was tested with (and only one TensorFlow)?"""
    pins, checks = _pinned_versions(), []
    for name in KEY_PACKAGES:
        found = _installed_versions(name)
        if len(found) > 1:
            checks.append(Check(name, "PROBLEM", f"two builds installed over each other ({', '.join(found)})",
                                "Run the set-up command from the README again (python3 run.py course): "
                                "it keeps one. Or: pip uninstall -y tensorflow tensorflow-cpu, then install again."))
            continue
        if not found:
            checks.append(Check(name, "PROBLEM", "not installed",
                                "Run the set-up command from the README again (python3 run.py course)."))
            continue
        [(package, version)] = found.items()
        wanted = pins.get(package.lower())
        if wanted and wanted != version:
            checks.append(Check(name, "NOTE", f"{version} (the course was tested with {wanted})",
                                "It will probably work; if something breaks, run the set-up command again."))
        else:
            checks.append(Check(name, "OK", version if package == name else f"{version} ({package})"))
    return checks


def check_compute() -> list[Check]:
    """CPU cores, memory, and whether TensorFlow starts (and sees a GPU, which no notebook needs)."""
    import psutil

    cores = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    cpu = Check("CPU", "OK", f"{cores} core(s), {platform.machine()}, {platform.system()}")
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


def check_data_folders() -> list[Check]:
    """Can the data folder be made and written to; does RADKIT_LOCAL_DATA point at a folder?"""
    from radkit.errors import RadkitError

    checks = []
    try:
        folder = config.data_dir()
    except RadkitError as error:
        checks.append(Check("Data folder", "PROBLEM", error.problem, error.fix or ""))
    else:
        shown = config.display_path(folder, data_folders=False)
        if os.access(folder, os.W_OK):
            checks.append(Check("Data folder", "OK", f"{shown} (downloads are kept here)"))
        else:
            checks.append(Check("Data folder", "NOTE", f"{shown} is read-only: files already there are used, "
                                "nothing new can be downloaded",
                                "Fine when an instructor prepared it; otherwise set RADKIT_DATA to a folder you can "
                                "write to."))
    problem = config.local_data_problem()
    if problem:
        checks.append(Check("Pre-fetched data", "PROBLEM", problem,
                            "Plug in the USB stick or fix the path in RADKIT_LOCAL_DATA; or unset it to download instead."))
    elif config.local_data_dir():
        checks.append(Check("Pre-fetched data", "OK",
                            f"{config.display_path(config.local_data_dir(), data_folders=False)} (RADKIT_LOCAL_DATA)"))
    return checks


def check_disk() -> Check:
    """Is there room for the datasets in the data folder?"""
    from radkit.errors import RadkitError

    try:
        folder = config.data_dir()
    except RadkitError:
        return Check("Disk", "NOTE", "not checked: there is no data folder (see above)")
    free_gb = shutil.disk_usage(folder).free / 1e9
    ok = free_gb >= MIN_DISK_GB
    return Check("Disk", "OK" if ok else "PROBLEM", f"{free_gb:.1f} GB free for the data folder",
                 "" if ok else "Free some space, or set RADKIT_DATA to a folder on a bigger disk.")


def _stored(key: str, variant):
    """(where, verified) of a dataset file on this computer, or None."""
    from radkit.download import md5sum, stored_copy

    file = registry.get(key).files[variant]
    path = stored_copy(key, file.name)
    if path is None:
        return None
    try:
        return path, md5sum(path) == file.md5
    except OSError:
        return path, False


def _sizes(variants) -> str:
    names = [f"{v} px" if isinstance(v, int) else str(v) for v in variants]
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def check_data() -> list[Check]:
    """Are the files the notebooks ask for on this computer, and what happens when one is missing?"""
    checks = []
    for key, variants in NOTEBOOK_FILES.items():
        title = registry.get(key).title
        found = {v: _stored(key, v) for v in variants}
        here = [v for v in variants if found[v]]
        missing = [v for v in variants if not found[v]]
        unverified = [v for v in here if not found[v][1]]
        detail = f"{_sizes(here)} on this computer" if here else "not on this computer yet"
        if unverified:
            detail += f" ({_sizes(unverified)}: an unverified copy, its checksum differs from the official file)"
        if not missing:
            checks.append(Check(f"Data: {title}", "OK", detail))
            continue
        fetch = f"python3 run.py fetch {key} " + " ".join(f"--size {v}" for v in missing)
        if here:
            fix = (f"Notebooks that ask for {_sizes(missing)} will download it when online; without internet they "
                   f"use the {_sizes(here[:1])} films, enlarged (fine for the course). To have it now: `{fetch}`.")
        else:
            fix = (f"It downloads when a notebook first needs it (needs internet), or now with `{fetch}`; "
                   "without internet the notebooks use the built-in practice images (phantoms) instead.")
        checks.append(Check(f"Data: {title}", "NOTE", detail + (f"; {_sizes(missing)} missing" if here else ""), fix))
    for key, dataset in registry.DATASETS.items():  # other datasets: only mention those already here
        if key in NOTEBOOK_FILES or not dataset.files:
            continue
        here = [v for v in dataset.files if _stored(key, v)]
        if here:
            checks.append(Check(f"Data: {dataset.title}", "OK", f"{_sizes(here)} on this computer"))
    from radkit import nih

    for key in nih.FETCHERS:  # NIH films fetched one at a time (notebooks 06, 07, 10)
        title, count = registry.get(key).title, nih.films_here(key)
        if count is not None:
            checks.append(Check(f"Data: {title}", "OK", f"{count} films on this computer"))
        else:
            checks.append(Check(f"Data: {title}", "NOTE", "not on this computer",
                                f"Optional: `python3 run.py fetch {key}` (see datasets/{key}.md); without it the "
                                "notebooks use practice phantoms."))
    try:
        from radkit import dicom

        dicom.example_path("RG1_UNCR.dcm")  # raises when pydicom-data is missing
        checks.append(Check("Data: example DICOM", "OK", "pydicom-data is installed"))
    except Exception:
        checks.append(Check("Data: example DICOM", "PROBLEM", "pydicom-data's example files were not found",
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
        why = ("no internet" if isinstance(error, socket.gaierror) else
               f"no answer within {timeout:g} s" if isinstance(error, (socket.timeout, TimeoutError)) else
               "the connection was refused (a firewall or proxy may block it)")
        return Check("Internet", "NOTE", f"{why}: {host} cannot be reached",
                     "Fine for the course: notebooks use data already on this computer or the practice "
                     "phantoms. For real data, connect and run `python3 run.py fetch pneumoniamnist`, or ask your "
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
    return [check_python(), *check_packages(), *check_compute(), *check_data_folders(), check_disk(), *check_data(),
            *check_pack(),
            check_internet(), check_browser_tools()]


class Readiness:
    """What ``doctor()`` returns: true when nothing needs fixing. Shows nothing in a notebook (the report
    is already printed), so no stray ``True`` appears under it."""

    def __init__(self, problems: list[Check]):
        self.problems = problems

    def __bool__(self) -> bool:
        return not self.problems

    def __repr__(self) -> str:
        return "ready" if not self.problems else f"{len(self.problems)} problem(s)"

    def _ipython_display_(self):
        pass


def doctor(checks: list[Check] | None = None) -> Readiness:
    """Print a readable report of this computer's set-up. The result is true when nothing needs fixing."""
    from radkit import __version__

    checks = run_checks() if checks is None else checks
    print(f"RadKit {__version__} doctor: checking this computer\n")
    local = os.environ.get("RADKIT_LOCAL_DATA")
    print(f"Data folder (RADKIT_DATA): {config.display_path(config.data_dir_setting(), data_folders=False)}")
    print("Pre-fetched data (RADKIT_LOCAL_DATA): "
          + (config.display_path(local, data_folders=False) if local else "not set")
          + (" (no folder there!)" if config.local_data_problem() else ""))
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
    return Readiness(problems)
